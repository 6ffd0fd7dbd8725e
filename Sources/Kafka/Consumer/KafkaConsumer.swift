import CRdKafka
import Foundation
import Logging
import Synchronization

/// Reads records, either as a member of a consumer group or by assigning partitions itself.
///
/// A dedicated thread polls librdkafka with a blocking timeout and hands messages to ``messages``
/// through a bounded buffer: when the application falls behind, the consumer pauses its
/// partitions (and resumes them once the buffer drains) instead of buffering without limit.
///
/// In group mode nothing is committed automatically: the application calls ``acknowledge(_:)``
/// when it is done with a message, and the consumer commits, per partition, the offset after the
/// longest acknowledged prefix, so a message is never committed before everything before it.
///
/// After an outage of every broker the consumer asks the brokers for its topics' identifiers, and
/// rebuilds its librdkafka client (see ``rebuild()``) when they changed: a broker without
/// persistent storage comes back with its topics created again under new topic ids, which a client
/// keeps fetching by the old ids and never recovers from. When the topics are the ones it knew
/// (connections merely dropped), it keeps its client: rebuilding would only make it unready for a
/// moment. The ``messages`` sequence goes on across a rebuild.
public final class KafkaConsumer: Sendable {
    /// Where a consumer that assigns its own partitions starts reading.
    public enum StartPosition: Sendable, Hashable {
        case beginning
        /// Only records produced after the consumer is positioned.
        case end
    }

    /// What the consumer reads.
    public enum Subscription: Sendable, Hashable {
        /// Join the group and read the partitions it assigns, starting at the group's committed
        /// offsets (or `auto.offset.reset` when there are none).
        case group(id: String, topics: [String])
        /// Read every partition of these topics without joining a group. The consumer asks the
        /// broker for the partitions' offsets and assigns them explicitly, so once it reports
        /// ``isPositioned`` nothing produced afterwards can be missed.
        case allPartitions(of: [String], from: StartPosition)
        /// Read exactly these partitions without joining a group, positioned like `allPartitions`.
        case partitions([KafkaTopicPartition], from: StartPosition)

        /// The topics read, each once.
        var topics: [String] {
            let all: [String]
            switch self {
            case .group(_, let topics), .allPartitions(let topics, _): all = topics
            case .partitions(let partitions, _): all = partitions.map(\.topic)
            }
            var seen = Set<String>()
            return all.filter { seen.insert($0).inserted }
        }
    }

    /// What the application does when its group changes its partitions. Both run on the
    /// polling thread, inside librdkafka's rebalance callback, and may block (briefly: the group
    /// waits).
    public struct RebalanceHooks: Sendable {
        /// After partitions are assigned, before anything of them is fetched (so before any of
        /// their messages is delivered).
        public var assigned: @Sendable ([KafkaTopicPartition]) -> Void
        /// Before partitions are revoked and what was acknowledged of them is committed: the
        /// place to finish (and acknowledge) what is in progress.
        public var revoking: @Sendable ([KafkaTopicPartition]) -> Void

        public init(
            assigned: @escaping @Sendable ([KafkaTopicPartition]) -> Void = { _ in },
            revoking: @escaping @Sendable ([KafkaTopicPartition]) -> Void = { _ in }
        ) {
            self.assigned = assigned
            self.revoking = revoking
        }

        public static let none = RebalanceHooks()
    }

    /// One librdkafka client with its polling thread and connectivity probe.
    private struct Client: Sendable {
        let handle: KafkaHandle
        let pollingThread: PollingThread
        let probe: ConnectivityProbe
    }

    private let core: ConsumerCore
    private let properties: Mutex<[String: String]>
    private let raisingFetchWait = Atomic(false)
    private let fetchWaitRaises = Atomic(0)
    private let callbacks: ClientCallbacks
    private let client: Mutex<Client?>
    private let isOpen = Atomic(true)
    /// Keeps the client's replacements (after an outage, for a longer fetch wait) and its close
    /// apart: each stops a polling thread and destroys a handle.
    private let clientChanges = SerialOperations()
    /// librdkafka clients started and not yet destroyed: one while open (for tests).
    private let liveClients = Atomic(1)
    private let supervisor: Mutex<Task<Void, Never>?> = Mutex(nil)
    private let recoveries = Mutex(OutageRecoveries())
    private let knownTopics = Mutex<[String: String?]?>(nil)
    /// Set when every broker was lost, cleared once their return has been judged (the client
    /// kept, or rebuilt and so unpositioned): in between, the old client's position may mean
    /// nothing, so the consumer does not count as positioned.
    private let judgingOutage = Atomic(false)
    private let logger: Logger

    /// Creates the consumer and starts polling.
    ///
    /// - Parameters:
    ///   - configuration: brokers, profile and pass-through properties.
    ///   - subscription: a consumer group, or partitions assigned directly.
    ///   - componentSettings: properties the caller needs (`auto.offset.reset`, for example); the
    ///     user's pass-through properties still win.
    ///   - bufferCapacity: messages buffered ahead of the application before partitions pause.
    ///   - commitInterval: how often acknowledged offsets are committed (group mode).
    ///   - rebalanceHooks: what the application does when the group assigns or revokes partitions.
    ///   - skipping: records whose last header of this name has this value are never handed to
    ///     the application, and are not copied out of librdkafka: a process reading back a topic
    ///     it also writes marks its own records so. They count as handled (committed in group
    ///     mode, passed over by a rebuilt client).
    ///   - statisticsHandler: receives librdkafka's statistics every `statistics.interval.ms` (5 s
    ///     unless set).
    public init(
        configuration: KafkaConfiguration,
        subscription: Subscription,
        componentSettings: [String: String] = [:],
        bufferCapacity: Int = 1_000,
        commitInterval: Duration = .milliseconds(200),
        rebalanceHooks: RebalanceHooks = .none,
        skipping: KafkaHeader? = nil,
        logger: Logger,
        statisticsHandler: (@Sendable (KafkaStatistics) -> Void)? = nil
    ) throws {
        try LibrdkafkaVersion.requireRunning()
        var enforced = ["enable.auto.commit": "false", "enable.auto.offset.store": "false"]
        switch subscription {
        case .group(let id, _):
            enforced["group.id"] = id
        case .allPartitions, .partitions:
            // librdkafka's consumer poll needs a group id even when partitions are assigned
            // directly; this one is never joined and never committed to.
            enforced["group.id"] = "demosync-assign-\(UUID().uuidString.lowercased())"
        }
        var settings = componentSettings
        if case .group = subscription {} else if settings["auto.offset.reset"] == nil {
            // An assigned offset the broker no longer has (its log was lost or truncated) restarts
            // the partition from what it has: reading a record twice is safer than skipping one.
            settings["auto.offset.reset"] = "earliest"
        }
        let properties = try configuration.resolvedProperties(
            for: .consumer, componentSettings: settings.withStatistics(statisticsHandler != nil), enforced: enforced)
        self.properties = Mutex(properties)
        let core = ConsumerCore(
            subscription: subscription, bufferCapacity: max(1, bufferCapacity), commitInterval: commitInterval,
            healOffsetGaps: configuration.profile == .local,
            groupStartsAtEarliest: ["earliest", "smallest", "beginning"].contains(properties["auto.offset.reset"] ?? "latest"),
            skipping: skipping, hooks: rebalanceHooks, logger: logger)
        self.callbacks = ClientCallbacks(logger: logger, statisticsHandler: statisticsHandler, rebalanceHandler: core)
        self.core = core
        self.logger = logger
        self.client = Mutex(try Self.startClient(properties: properties, callbacks: callbacks, core: core))
        superviseOutages()
        // The user's fetch wait stands; the profile's and the component's may rise.
        if configuration.profile == .local, configuration.properties["fetch.wait.max.ms"] == nil {
            core.watchFetchStalls { [weak self] in
                guard let self, !self.raisingFetchWait.exchange(true, ordering: .acquiringAndReleasing) else { return }
                Task { await self.clientChanges.run { await self.raiseFetchWait() } }
            }
        }
    }

    /// librdkafka clients started and not yet destroyed.
    var liveClientCount: Int { liveClients.load(ordering: .relaxed) }

    /// How many times the fetch wait rose (see ``FetchStallWatch``).
    public var fetchWaitRaiseCount: Int { fetchWaitRaises.load(ordering: .relaxed) }

    /// The `fetch.wait.max.ms` the client runs with now.
    public var fetchWaitMilliseconds: Int? { properties.withLock { $0["fetch.wait.max.ms"].flatMap { Int($0) } } }

    /// Replaces the client with one whose fetch wait is four times as long: librdkafka fixes
    /// `fetch.wait.max.ms` for a client's life. The wait never falls again: the local broker's
    /// partitions only grow.
    private func raiseFetchWait() async {
        defer { raisingFetchWait.store(false, ordering: .releasing) }
        let current = fetchWaitMilliseconds ?? FetchStallWatch.maximumWaitMilliseconds
        guard isOpen.load(ordering: .acquiring), let raised = FetchStallWatch.raisedWait(from: current) else { return }
        logger.notice(
            "fetches bring nothing while the broker holds records past this consumer's position; raising the fetch wait",
            metadata: ["kafka.fetch_wait_ms": "\(current)", "kafka.fetch_wait_ms_raised": "\(raised)"])
        properties.withLock { $0["fetch.wait.max.ms"] = "\(raised)" }
        fetchWaitRaises.add(1, ordering: .relaxed)
        await replaceClient(brokersReachable: true)
    }

    private static func startClient(properties: [String: String], callbacks: ClientCallbacks, core: ConsumerCore) throws -> Client {
        let handle = try KafkaHandle(role: .consumer, properties: properties, callbacks: callbacks)
        // Serve every callback (rebalances, errors, statistics) from the consumer poll.
        rd_kafka_poll_set_consumer(handle.pointer)
        if case .group(_, let topics) = core.subscription {
            let list = PartitionList.make(topics.map { (KafkaTopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA), offset: nil) })
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let code = rd_kafka_subscribe(handle.pointer, list)
            guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                handle.destroy()
                throw KafkaError(code, message: "cannot subscribe to \(topics.joined(separator: ", ")): \(String(cString: rd_kafka_err2str(code)))")
            }
        }
        let pollingThread = PollingThread(name: "demosync-kafka-consumer-poll") { thread in
            core.pollOnce(handle, thread: thread)
        }
        return Client(handle: handle, pollingThread: pollingThread, probe: ConnectivityProbe(handle: handle))
    }

    /// Rebuilds the client when the brokers come back, after all of them were unreachable, with
    /// topics other than the ones it was reading (or when that cannot be told).
    private func superviseOutages() {
        // Set by every loss of the brokers, read by the loop when they are back: the stream below
        // keeps only the newest value, so it alone could hide a short outage.
        let outage = Atomic(false)
        callbacks.connectivity.onChange { [weak self] reachable in
            if !reachable {
                self?.judgingOutage.store(true, ordering: .relaxed)
                outage.store(true, ordering: .relaxed)
            }
        }
        let changes = callbacks.connectivity.changes()
        let task = Task { [weak self] in
            // The topics' identifiers as seen once this client was positioned on them; nil while
            // not known, and then an outage leads to a rebuild, as nothing tells it was harmless.
            var known: [String: String?]? {
                get { self?.knownTopics.withLock { $0 } ?? nil }
                set { self?.knownTopics.withLock { $0 = newValue } }
            }
            for await reachable in changes where reachable {
                guard let self else { return }
                if outage.exchange(false, ordering: .relaxed) {
                    let now = await self.topicIdentities()
                    if let before = known, let now, before == now {
                        self.logger.notice("Kafka brokers reachable again with the same topics; keeping the consumer")
                        self.recoveries.withLock { $0.keptClient += 1 }
                        self.judgingOutage.store(false, ordering: .relaxed)
                        continue
                    }
                    if let before = known, let now {
                        // Topics created again are new logs: the offsets read in the old ones
                        // mean nothing there.
                        self.core.forgetResumeOffsets(of: Set(before.keys.filter { before[$0] != now[$0] }))
                    }
                    await self.rebuild()
                    self.judgingOutage.store(false, ordering: .relaxed)
                    self.recoveries.withLock { $0.rebuiltClient += 1 }
                    known = nil
                }
                if known == nil {
                    known = await self.identitiesOncePositioned(unlessLost: outage)
                }
            }
        }
        supervisor.withLock { $0 = task }
    }

    /// Waits until the client is positioned (its topics exist then), and returns the topics'
    /// identifiers, retrying a few times; `nil` if the brokers are lost meanwhile, or on
    /// cancellation.
    private func identitiesOncePositioned(unlessLost outage: borrowing Atomic<Bool>) async -> [String: String?]? {
        while !core.isPositioned {
            guard !Task.isCancelled, !outage.load(ordering: .relaxed) else { return nil }
            try? await Task.sleep(for: .milliseconds(200))
        }
        for _ in 0..<5 {
            guard !Task.isCancelled, !outage.load(ordering: .relaxed) else { return nil }
            if let identities = await topicIdentities() { return identities }
            try? await Task.sleep(for: .seconds(1))
        }
        return nil
    }

    /// How the consumer came back from outages of every broker.
    public struct OutageRecoveries: Sendable, Hashable {
        /// The brokers came back with the same topics and the client went on.
        public var keptClient = 0
        /// The topics had changed (or could not be checked) and the client was replaced.
        public var rebuiltClient = 0

        /// Outages recovered from, either way.
        public var total: Int { keptClient + rebuiltClient }
    }

    /// True once the consumer knows its topics' identifiers, so that after an outage it can tell
    /// a broker that kept them from one that came back empty.
    public var knowsTopicIdentities: Bool { knownTopics.withLock { $0 != nil } }

    /// How the consumer came back from outages so far.
    public var outageRecoveries: OutageRecoveries { recoveries.withLock { $0 } }

    /// The identifiers of the subscribed topics, or `nil` when one of them is unknown or the
    /// brokers did not say.
    private func topicIdentities() async -> [String: String?]? {
        guard let handle = client.withLock({ $0?.handle }) else { return nil }
        let topics = core.subscription.topics
        let identities = try? await runBlocking("demosync-kafka-consumer-topics") {
            try handle.topicIdentities(of: topics, timeout: .seconds(5))
        }
        guard let identities, identities.count == Set(topics).count, !identities.values.contains(nil) else { return nil }
        return identities
    }

    /// The messages, in order per partition. One task may iterate them; the sequence ends when
    /// the consumer is closed or ``stopDelivering()`` is called, or the iterating task is
    /// cancelled.
    public var messages: KafkaConsumerMessages { KafkaConsumerMessages(buffer: core.buffer) }

    /// The same messages in batches of what has arrived since the last read (at most
    /// `maximumCount` each): one wake-up per batch rather than per message. Read either this or
    /// ``messages``, from one task.
    public func batches(maximumCount: Int = 512) -> KafkaConsumerBatches {
        KafkaConsumerBatches(buffer: core.buffer, maximumCount: max(1, maximumCount))
    }

    /// Marks a message as processed, making its offset committable once every earlier message of
    /// its partition is processed too. Messages of partitions revoked meanwhile are ignored.
    public func acknowledge(_ message: KafkaMessage) {
        core.acknowledge(message)
    }

    /// True once the consumer has its partitions at known offsets: for `allPartitions` and
    /// `partitions`, once they are assigned at the offsets the broker reported; for a group, once
    /// the group assigned partitions to it.
    ///
    /// After every broker was lost it stays false until their return has been judged: a client
    /// whose topics came back empty is rebuilt and positioned again first.
    public var isPositioned: Bool { core.isPositioned && !judgingOutage.load(ordering: .relaxed) }

    /// Returns once ``isPositioned`` is true, or when the consumer is closed.
    public func waitUntilPositioned() async {
        await core.waitUntilPositioned()
    }

    /// The partitions currently assigned to this consumer.
    public var assignment: [KafkaTopicPartition] { core.assignment }

    /// Messages fetched and waiting in the buffer for the application.
    public var bufferedCount: Int { core.buffer.count }

    /// Messages handed out and not yet acknowledged (group mode).
    public var inProgressCount: Int { core.inProgressCount }

    /// What librdkafka reported about reaching the brokers.
    public var connectivity: BrokerConnectivity { callbacks.connectivity }

    /// Administrative calls over this consumer's connection (they fail once it is closed).
    public var admin: KafkaAdmin { KafkaAdmin(handle: client.withLock { $0?.handle }) }

    /// Pauses every partition (from the next poll, within about 100 ms) until ``release()``:
    /// nothing is fetched meanwhile, so a consumer that is only needed from time to time costs the
    /// brokers nothing in between. Messages already fetched may still be delivered. (A group
    /// member paused before it consumed anything resumes only after librdkafka looks its
    /// offsets up again, which can take a while: hold group members at the application instead.)
    public func hold() {
        core.hold()
    }

    /// Ends a ``hold()``.
    public func release() {
        core.release()
    }

    /// Ends the ``messages`` sequence and pauses reading, while keeping the client open so that
    /// messages still being processed can be acknowledged and committed by ``close()``. The first
    /// step of a graceful shutdown.
    public func stopDelivering() {
        core.stopDelivering()
    }

    /// Replaces the librdkafka client by a new one with the same configuration, keeping the
    /// ``messages`` sequence going. A group member commits what was acknowledged and leaves, then
    /// joins again; a consumer that assigns its own partitions resumes each partition after the
    /// last message it delivered, or at the partition's beginning when the broker no longer has
    /// that offset (its log was lost or truncated).
    public func rebuild() async {
        await clientChanges.run { [self] in
            guard isOpen.load(ordering: .acquiring) else { return }
            logger.notice("rebuilding the Kafka consumer after a broker outage")
            await replaceClient(brokersReachable: false)
        }
    }

    /// Stops the client and starts another with the current ``properties``; only ever run inside
    /// ``clientChanges``. With the brokers reachable, the old client commits and leaves its group
    /// as on close; after an outage its coordinator may be gone (or forgot us), so it commits what
    /// it can without waiting and does not wait to leave.
    private func replaceClient(brokersReachable: Bool) async {
        guard let old = client.withLock({ $0 }) else { return }
        await old.probe.stop()
        await old.pollingThread.stop()
        let core = self.core
        if brokersReachable { core.resumeAtExpectedOffsets() }
        let destroyed = try? await runBlocking("demosync-kafka-consumer-rebuild") {
            if brokersReachable {
                core.commitAll(old.handle)
                rd_kafka_consumer_close(old.handle.pointer)
                return old.handle.destroy()
            } else {
                core.commitAllInBackground(old.handle)
                return old.handle.destroy(leavingGroup: false)
            }
        }
        if destroyed == true { liveClients.subtract(1, ordering: .relaxed) }
        core.prepareForNewClient()
        do {
            let fresh = try Self.startClient(properties: properties.withLock { $0 }, callbacks: callbacks, core: core)
            liveClients.add(1, ordering: .relaxed)
            client.withLock { $0 = fresh }
        } catch {
            logger.error("cannot rebuild the Kafka consumer", metadata: ["kafka.error": "\(error)"])
            client.withLock { $0 = nil }
        }
    }

    /// Stops reading, commits what was acknowledged, leaves the group and releases the client.
    /// The ``messages`` sequence ends; acknowledgements after this are ignored.
    public func close() async {
        guard isOpen.compareExchange(expected: true, desired: false, ordering: .acquiringAndReleasing).exchanged else { return }
        // The supervisor may be asking the brokers something through the client: let it finish
        // before the client goes.
        if let supervising = supervisor.withLock({ $0 }) {
            supervising.cancel()
            await supervising.value
        }
        await clientChanges.close()
        core.buffer.finish()
        guard let current = client.withLock({ state in
            defer { state = nil }
            return state
        }) else {
            core.closed()
            return
        }
        await current.probe.stop()
        await current.pollingThread.stop()
        let core = self.core
        let destroyed = try? await runBlocking("demosync-kafka-consumer-close") {
            core.commitAll(current.handle)
            // Leaves the group; a revocation served here commits once more, harmlessly.
            rd_kafka_consumer_close(current.handle.pointer)
            return current.handle.destroy()
        }
        if destroyed == true { liveClients.subtract(1, ordering: .relaxed) }
        core.closed()
    }
}

/// The messages of a ``KafkaConsumer``.
public struct KafkaConsumerMessages: AsyncSequence, Sendable {
    public typealias Element = KafkaMessage
    let buffer: MessageBuffer

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: MessageBuffer

        public mutating func next() async -> KafkaMessage? {
            await buffer.next()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: buffer)
    }
}

/// The messages of a ``KafkaConsumer`` in batches, in order per partition.
public struct KafkaConsumerBatches: AsyncSequence, Sendable {
    public typealias Element = [KafkaMessage]
    let buffer: MessageBuffer
    let maximumCount: Int

    public struct AsyncIterator: AsyncIteratorProtocol {
        let buffer: MessageBuffer
        let maximumCount: Int

        public mutating func next() async -> [KafkaMessage]? {
            await buffer.nextBatch(maximumCount: maximumCount)
        }

        /// The next batch, of at most `maximumCount` messages this time.
        public mutating func next(maximumCount: Int) async -> [KafkaMessage]? {
            await buffer.nextBatch(maximumCount: Swift.max(1, maximumCount))
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(buffer: buffer, maximumCount: maximumCount)
    }
}
