import CRdKafka
import Logging
import Synchronization

/// Produces records and reports, for each one, when the broker acknowledged it.
///
/// A dedicated thread serves librdkafka's delivery reports with a blocking poll, so a `send` resumes
/// as soon as its acknowledgement arrives, without a sleep-and-poll loop on the cooperative pool.
public final class KafkaProducer: Sendable {
    private enum State {
        case running
        case closed
    }

    private let handle: KafkaHandle
    private let pollingThread: PollingThread
    private let probe: ConnectivityProbe
    private let state = Mutex(State.running)
    private let logger: Logger

    /// Whether the brokers are reachable right now, kept current by a background probe.
    public var connectivity: BrokerConnectivity { handle.callbacks.connectivity }

    /// Administrative calls (topic creation, metadata) over this producer's connection.
    public var admin: KafkaAdmin { KafkaAdmin(handle: handle) }

    /// Creates a producer.
    ///
    /// - Parameters:
    ///   - configuration: brokers, profile and pass-through properties.
    ///   - componentSettings: properties the caller needs, such as `message.timeout.ms` matched to
    ///     its own deadline; the user's pass-through properties still override them.
    ///   - failQueuedRecordsWhenBrokersDown: when every broker becomes unreachable, fail the records
    ///     still waiting in the local queue at once (they were certainly never sent) instead of
    ///     letting them wait for `message.timeout.ms`.
    ///   - statisticsHandler: receives librdkafka's statistics every `statistics.interval.ms` (5 s
    ///     unless set).
    public init(
        configuration: KafkaConfiguration,
        componentSettings: [String: String] = [:],
        failQueuedRecordsWhenBrokersDown: Bool = true,
        logger: Logger,
        statisticsHandler: (@Sendable (KafkaStatistics) -> Void)? = nil
    ) throws {
        try LibrdkafkaVersion.requireRunning()
        let callbacks = ClientCallbacks(logger: logger, statisticsHandler: statisticsHandler)
        let properties = try configuration.resolvedProperties(
            for: .producer, componentSettings: componentSettings.withStatistics(statisticsHandler != nil))
        let handle = try KafkaHandle(role: .producer, properties: properties, callbacks: callbacks)
        self.handle = handle
        self.logger = logger
        if failQueuedRecordsWhenBrokersDown {
            // Called when librdkafka reports all brokers down and after every failed probe while
            // they stay down (about every 3 s). Records still in the local queue were never
            // sent: failing them turns a wait for the message timeout into a prompt
            // "unavailable". In-flight records are left alone; they may already be written.
            callbacks.connectivity.onFailure { [weak handle] in
                guard let handle else { return }
                rd_kafka_purge(handle.pointer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING)
            }
        }
        pollingThread = PollingThread(name: "demosync-kafka-producer-poll") { _ in
            rd_kafka_poll(handle.pointer, 100)
        }
        probe = ConnectivityProbe(handle: handle)
    }

    /// Produces a record and returns once the broker has acknowledged it.
    ///
    /// Throws a ``KafkaError`` when librdkafka refuses the record (queue full, unknown topic, closed
    /// producer) or when its delivery fails; the error's ``KafkaError/persistence`` says whether
    /// the record may nevertheless have been written. Cancelling the calling task does not recall
    /// a record already handed to librdkafka, so this waits for its report in any case (bounded by
    /// `message.timeout.ms`).
    @discardableResult
    public func send(_ record: KafkaRecord) async throws -> KafkaDeliveryReport {
        try await withCheckedThrowingContinuation { continuation in
            let promise = DeliveryPromise(continuation: continuation, topic: record.topic, connectivity: connectivity)
            let opaque = promise.retainedOpaque()
            // Holding the state lock across the (non-blocking) produce call keeps `close` from
            // destroying the handle underneath it.
            let error: KafkaError? = state.withLock { state in
                guard case .running = state else { return KafkaError(RD_KAFKA_RESP_ERR__DESTROY, message: "the producer is closed", persistence: .notPersisted) }
                return produce(record, opaque: opaque)
            }
            if let error {
                DeliveryPromise.abandon(opaque, error: error)
            }
        }
    }

    private func produce(_ record: KafkaRecord, opaque: UnsafeMutableRawPointer) -> KafkaError? {
        let headers = rd_kafka_headers_new(record.headers.count)!
        for header in record.headers {
            header.value.withUnsafeBytes { value in
                _ = rd_kafka_header_add(headers, header.name, -1, value.baseAddress, value.count)
            }
        }
        let result: OpaquePointer? = record.topic.withCString { topic in
            record.value.withUnsafeBytes { value in
                withOptionalBytes(record.key) { key in
                    var arguments = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 7)
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
                    return rd_kafka_produceva(handle.pointer, &arguments, arguments.count)
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
        let wasRunning = state.withLock { state in
            defer { state = .closed }
            if case .running = state { return true }
            return false
        }
        guard wasRunning else { return }
        await probe.stop()
        await pollingThread.stop()
        let handle = self.handle
        let logger = self.logger
        _ = try? await runBlocking("demosync-kafka-producer-close") {
            // rd_kafka_flush serves delivery reports itself while it waits.
            if rd_kafka_flush(handle.pointer, timeout.milliseconds) != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.warning("records still unacknowledged at close; failing them", metadata: ["kafka.outq": "\(rd_kafka_outq_len(handle.pointer))"])
                rd_kafka_purge(handle.pointer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
                rd_kafka_flush(handle.pointer, 1000)
            }
            handle.destroy()
        }
    }
}

/// Calls `body` with the bytes of `bytes`, or with `nil` when there are none.
private func withOptionalBytes<Result>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> Result) -> Result {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}
