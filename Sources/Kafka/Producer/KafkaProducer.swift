import CRdKafka
import Logging
import Synchronization

/// Produces records and reports, for each one, when the broker acknowledged it.
///
/// A dedicated thread serves librdkafka's delivery reports with a blocking poll, so a `send` resumes
/// as soon as its acknowledgement arrives, without a sleep-and-poll loop on the cooperative pool.
public final class KafkaProducer: Sendable {
    /// One librdkafka client with the thread that serves its delivery reports.
    private struct Lane: Sendable {
        let handle: KafkaHandle
        let pollingThread: PollingThread
        let stickyTopics: TopicHandles
    }

    /// The librdkafka client, with its connectivity probe, and the ``LingeringClient``'s.
    private struct Client: Sendable {
        let lane: Lane
        let probe: ConnectivityProbe
        let lingering: Lane?

        var handle: KafkaHandle { lane.handle }
        var lanes: [Lane] { [lane] + (lingering.map { [$0] } ?? []) }
    }

    private let properties: [String: String]
    private let stickyTopics: Set<String>
    private let lingeringClient: LingeringClient?
    private let callbacks: ClientCallbacks
    /// The lingering client's: its own connectivity, which nothing reads (an idle client's
    /// dropped connection must not make the producer look down), and its statistics.
    private let lingeringCallbacks: ClientCallbacks?
    /// `nil` once closed. Sends hold this lock across the (non-blocking) produce call, which
    /// keeps `close` and a rebuild from destroying a handle underneath them.
    private let client: Mutex<Client?>
    private let logger: Logger
    /// How many times the client was replaced after a fatal error.
    let replacements = Atomic(0)

    /// Whether the brokers are reachable right now, kept current by a background probe.
    public var connectivity: BrokerConnectivity { callbacks.connectivity }

    /// Administrative calls (topic creation, metadata) over this producer's connection.
    public var admin: KafkaAdmin { KafkaAdmin(handle: client.withLock { $0?.handle }) }

    /// Creates a producer.
    ///
    /// - Parameters:
    ///   - configuration: brokers, profile and pass-through properties.
    ///   - componentSettings: properties the caller needs, such as `message.timeout.ms` matched to
    ///     its own deadline; the user's pass-through properties still override them.
    ///   - failQueuedRecordsWhenBrokersDown: when every broker becomes unreachable, fail the records
    ///     still waiting in the local queue at once (they were certainly never sent) instead of
    ///     letting them wait for `message.timeout.ms`.
    ///   - stickyTopics: topics whose records without an explicit partition go to one partition
    ///     at a time, the partition changing every 10 ms, instead of by key hash: fewer, larger
    ///     batches. Only for topics whose readers read every partition and where nothing depends
    ///     on the partition a key lands in.
    ///   - lingeringClient: a second client that lingers, for the records handed over with
    ///     `mayLinger` (see ``LingeringClient``); `nil` for one client.
    ///   - statisticsHandler: receives librdkafka's statistics every `statistics.interval.ms` (5 s
    ///     unless set).
    public init(
        configuration: KafkaConfiguration,
        componentSettings: [String: String] = [:],
        failQueuedRecordsWhenBrokersDown: Bool = true,
        stickyTopics: Set<String> = [],
        lingeringClient: LingeringClient? = nil,
        logger: Logger,
        statisticsHandler: (@Sendable (KafkaStatistics) -> Void)? = nil
    ) throws {
        try LibrdkafkaVersion.requireRunning()
        let callbacks = ClientCallbacks(logger: logger, statisticsHandler: statisticsHandler)
        properties = try configuration.resolvedProperties(
            for: .producer,
            componentSettings: componentSettings.withStatistics(statisticsHandler != nil || lingeringClient?.statisticsHandler != nil))
        self.callbacks = callbacks
        self.logger = logger
        self.stickyTopics = stickyTopics
        self.lingeringClient = lingeringClient
        lingeringCallbacks = lingeringClient.map { ClientCallbacks(logger: logger, statisticsHandler: $0.statisticsHandler) }
        client = Mutex(
            try Self.startClient(
                properties: properties, callbacks: callbacks, stickyTopics: stickyTopics, lingeringClient: lingeringClient,
                lingeringCallbacks: lingeringCallbacks))
        if failQueuedRecordsWhenBrokersDown {
            // Called when librdkafka reports all brokers down and after every failed probe while
            // they stay down (about every 3 s). Records still in the local queue were never
            // sent: failing them turns a wait for the message timeout into a prompt
            // "unavailable". In-flight records are left alone; they may already be written.
            callbacks.connectivity.onFailure { [weak self] in
                self?.client.withLock { client in
                    for lane in client?.lanes ?? [] {
                        rd_kafka_purge(lane.handle.pointer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING)
                    }
                }
            }
        }
        // A fatal error (an idempotent producer fenced or out of sequence) ends a librdkafka
        // producer for good: every later send would fail. Replace it with a new one.
        for clientCallbacks in [callbacks] + (lingeringCallbacks.map { [$0] } ?? []) {
            clientCallbacks.onFatalError { [weak self] in
                guard let self else { return }
                Task { await self.rebuild() }
            }
        }
    }

    private static func startClient(
        properties: [String: String], callbacks: ClientCallbacks, stickyTopics: Set<String>, lingeringClient: LingeringClient?,
        lingeringCallbacks: ClientCallbacks?
    ) throws -> Client {
        let lane = try startLane(properties: properties, callbacks: callbacks, stickyTopics: stickyTopics, name: "demosync-kafka-producer-poll")
        var lingering: Lane?
        if let lingeringClient, let lingeringCallbacks {
            var lingeringProperties = properties
            lingeringProperties["linger.ms"] = lingeringClient.lingerMilliseconds
            lingering = try startLane(
                properties: lingeringProperties, callbacks: lingeringCallbacks, stickyTopics: stickyTopics,
                name: "demosync-kafka-producer-linger-poll")
        }
        return Client(lane: lane, probe: ConnectivityProbe(handle: lane.handle), lingering: lingering)
    }

    private static func startLane(properties: [String: String], callbacks: ClientCallbacks, stickyTopics: Set<String>, name: String) throws -> Lane {
        let handle = try KafkaHandle(role: .producer, properties: properties, callbacks: callbacks)
        // Before anything else touches these topics on this client: librdkafka keeps the first
        // configuration a topic handle is created with.
        let sticky = try TopicHandles(stickyTopics.sorted().map { topic in
            guard let topicHandle = StickyPartitioning.topicHandle(on: handle.pointer, topic: topic) else {
                throw KafkaError.client("cannot set up sticky partitioning for \(topic)", code: rd_kafka_last_error())
            }
            return topicHandle
        })
        let pollingThread = PollingThread(name: name) { _ in
            rd_kafka_poll(handle.pointer, 100)
        }
        return Lane(handle: handle, pollingThread: pollingThread, stickyTopics: sticky)
    }

    /// Hands a record to librdkafka and returns at once; `onDelivery` is called exactly once, on
    /// the polling thread, when the broker acknowledged the record or it failed.
    ///
    /// The cheapest way to produce: no task and no continuation per record. `onDelivery` must
    /// return quickly (hand the outcome off, never block).
    ///
    /// - Parameter mayLinger: whether the record may wait for others on the producer's
    ///   ``LingeringClient`` (the caller expects more records soon); ignored without one.
    ///
    /// - Throws: a ``KafkaError`` (``KafkaError/persistence`` `.notPersisted`) when librdkafka
    ///   refuses the record outright (queue full, unknown topic, closed producer); `onDelivery`
    ///   is then never called.
    public func produce(_ record: KafkaRecord, mayLinger: Bool = false, onDelivery: @escaping DeliveryCallback) throws(KafkaError) {
        let opaque = DeliveryHandler(callback: onDelivery, topic: record.topic, connectivity: connectivity).retainedOpaque()
        let error: KafkaError? = client.withLock { client in
            guard let current = client else {
                return KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: "the producer is closed", persistence: .notPersisted)
            }
            let lane = mayLinger ? current.lingering ?? current.lane : current.lane
            return produce(record, on: lane.handle, opaque: opaque)
        }
        if let error {
            DeliveryHandler.abandon(opaque)
            throw error
        }
    }

    /// Produces a record and returns once the broker has acknowledged it.
    ///
    /// Throws a ``KafkaError`` when librdkafka refuses the record (queue full, unknown topic, closed
    /// producer) or when its delivery fails; the error's ``KafkaError/persistence`` says whether
    /// the record may nevertheless have been written. Cancelling the calling task does not recall
    /// a record already handed to librdkafka, so this waits for its report in any case (bounded by
    /// `message.timeout.ms`).
    @discardableResult
    public func send(_ record: KafkaRecord) async throws(KafkaError) -> KafkaDeliveryReport {
        let outcome: DeliveryOutcome = await withCheckedContinuation { continuation in
            do throws(KafkaError) {
                try produce(record) { continuation.resume(returning: $0) }
            } catch {
                continuation.resume(returning: .failure(error))
            }
        }
        return try outcome.get()
    }

    /// Replaces the librdkafka client after a fatal error. Sends from now on use the new client;
    /// records still held by the old one get their (failed) delivery reports as it is released.
    func rebuild() async {
        let replacement: Client
        do {
            replacement = try Self.startClient(
                properties: properties, callbacks: callbacks, stickyTopics: stickyTopics, lingeringClient: lingeringClient,
                lingeringCallbacks: lingeringCallbacks)
        } catch {
            logger.error("cannot replace the Kafka producer after a fatal error", metadata: ["kafka.error": "\(error)"])
            return
        }
        guard let old = client.withLock({ current -> Client? in
            guard let previous = current else { return nil }
            current = replacement
            return previous
        }) else {
            await Self.release(replacement, timeout: .zero)
            return
        }
        var reason = [CChar](repeating: 0, count: 512)
        var code = RD_KAFKA_RESP_ERR_NO_ERROR
        for lane in old.lanes where code == RD_KAFKA_RESP_ERR_NO_ERROR {
            code = rd_kafka_fatal_error(lane.handle.pointer, &reason, reason.count)
        }
        replacements.add(1, ordering: .relaxed)
        logger.error(
            "the Kafka producer hit a fatal error and was replaced",
            metadata: ["kafka.error": "\(KafkaError(code, message: reason.nulTerminatedText))"])
        await Self.release(old, timeout: .seconds(1))
    }

    private func produce(_ record: KafkaRecord, on handle: KafkaHandle, opaque: UnsafeMutableRawPointer) -> KafkaError? {
        let headers = rd_kafka_headers_new(record.headers.count)!
        for header in record.headers {
            // withCString, not the implicit conversion: that copies the name into a new array.
            header.name.withCString { name in
                header.withValueBytes { value in
                    _ = rd_kafka_header_add(headers, name, -1, value.baseAddress, value.count)
                }
            }
        }
        let result: OpaquePointer? = record.topic.withCString { topic in
            record.value.withUnsafeBytes { value in
                withOptionalBytes(record.key) { key in
                    // On the stack: an array here was one more heap allocation per record.
                    withUnsafeTemporaryAllocation(of: rd_kafka_vu_t.self, capacity: 7) { arguments in
                        arguments.initialize(repeating: rd_kafka_vu_t())
                        arguments[0].vtype = RD_KAFKA_VTYPE_TOPIC
                        arguments[0].u.cstr = topic
                        arguments[1].vtype = RD_KAFKA_VTYPE_PARTITION
                        arguments[1].u.i32 = record.partition ?? RD_KAFKA_PARTITION_UA
                        arguments[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                        arguments[2].u.i = RD_KAFKA_MSG_F_COPY
                        arguments[3].vtype = RD_KAFKA_VTYPE_VALUE
                        arguments[3].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                        arguments[3].u.mem.size = value.count
                        arguments[4].vtype = RD_KAFKA_VTYPE_KEY
                        arguments[4].u.mem.ptr = UnsafeMutableRawPointer(mutating: key?.baseAddress)
                        arguments[4].u.mem.size = key?.count ?? 0
                        arguments[5].vtype = RD_KAFKA_VTYPE_OPAQUE
                        arguments[5].u.ptr = opaque
                        arguments[6].vtype = RD_KAFKA_VTYPE_HEADERS
                        arguments[6].u.headers = headers
                        return rd_kafka_produceva(handle.pointer, arguments.baseAddress, arguments.count)
                    }
                }
            }
        }
        guard let result else { return nil }  // librdkafka now owns the headers
        rd_kafka_headers_destroy(headers)
        var error = KafkaError(consuming: result)
        error.persistence = .notPersisted
        return error
    }

    /// Waits up to `timeout` for every queued record to be acknowledged, fails whatever is left
    /// (each waiting `send` gets an error), and releases the client. Later sends fail at once.
    public func close(timeout: Duration = .seconds(10)) async {
        guard let current = client.withLock({ state -> Client? in
            defer { state = nil }
            return state
        }) else { return }
        await Self.release(current, timeout: timeout)
    }

    /// Makes librdkafka raise a fabricated fatal error (for tests of the recovery: real fatal
    /// errors cannot be provoked at will). Needs `enable.idempotence=true`.
    func raiseFatalErrorForTesting() {
        client.withLock { client in
            guard let handle = client?.handle else { return }
            _ = rd_kafka_test_fatal_error(handle.pointer, RD_KAFKA_RESP_ERR_PRODUCER_FENCED, "fabricated by a test")
        }
    }

    /// Stops a client's threads, flushes it for up to `timeout`, fails what is left, and
    /// destroys it, all off the cooperative pool.
    private static func release(_ client: Client, timeout: Duration) async {
        await client.probe.stop()
        for lane in client.lanes {
            await release(lane, timeout: timeout)
        }
    }

    private static func release(_ client: Lane, timeout: Duration) async {
        await client.pollingThread.stop()
        let handle = client.handle
        _ = try? await runBlocking("demosync-kafka-producer-close") {
            // rd_kafka_flush serves delivery reports itself while it waits.
            if rd_kafka_flush(handle.pointer, timeout.milliseconds) != RD_KAFKA_RESP_ERR_NO_ERROR {
                handle.callbacks.logger.warning(
                    "records still unacknowledged at close; failing them", metadata: ["kafka.outq": "\(rd_kafka_outq_len(handle.pointer))"])
                rd_kafka_purge(handle.pointer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
                rd_kafka_flush(handle.pointer, 1000)
            }
            client.stickyTopics.destroy()
            handle.destroy()
        }
    }
}

/// Topic handles a client keeps for its whole life (see ``StickyPartitioning``).
///
/// `@unchecked Sendable` because librdkafka documents topic handles as usable from any thread;
/// these are only ever destroyed, once, by ``destroy()`` before their client.
private final class TopicHandles: @unchecked Sendable {
    private var handles: [OpaquePointer]

    init(_ handles: [OpaquePointer]) {
        self.handles = handles
    }

    func destroy() {
        handles.forEach(rd_kafka_topic_destroy)
        handles = []
    }
}

/// Calls `body` with the bytes of `bytes`, or with `nil` when there are none.
private func withOptionalBytes<Result>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}
