import CRdKafka
import Logging
import Synchronization

/// The state a ``KafkaConsumer`` shares between its polling thread, librdkafka's rebalance
/// callback and the application's tasks.
final class ConsumerCore: RebalanceHandler {
    private struct PollState {
        var paused = false
        var deliveryStopped = false
        /// The application asked for no messages for now (``KafkaConsumer/hold()``).
        var held = false
        /// The offset expected next per partition, and the re-reads of a gap before it (see
        /// `healOffsetGaps`).
        var gaps = OffsetGaps(maximumRereads: ConsumerCore.maximumGapRereads)
        var lastCommit = ContinuousClock.now
        var lastPartitionRefresh = ContinuousClock.now
        var positioningFailures = 0
        /// Set when the fetch wait may rise (see ``FetchStallWatch``).
        var stallWatch: FetchStallWatch?
        var lastStallCheck = ContinuousClock.now
        var readSinceStallCheck = false

        /// Whether the partitions must be paused now (delivery stopped, held by the application,
        /// or the buffer full until it drains to half), as a change: `nil` when nothing changes.
        mutating func pauseChange(buffered: Int, capacity: Int) -> Bool? {
            let shouldPause = deliveryStopped || held || (paused ? buffered > capacity / 2 : buffered >= capacity)
            guard shouldPause != paused else { return nil }
            paused = shouldPause
            return shouldPause
        }
    }

    private struct Position {
        var positioned = false
        var closed = false
        var assignment: [KafkaTopicPartition] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let buffer = MessageBuffer()
    let subscription: KafkaConsumer.Subscription
    /// For a consumer that assigns its own partitions: the offset after the last message handed
    /// to the buffer, per partition, so that a rebuilt client resumes exactly there.
    private let resumeOffsets = Mutex<[KafkaTopicPartition: Int64]>([:])
    private let bufferCapacity: Int
    private let commitInterval: Duration
    private let logger: Logger
    private let progress = Mutex(OffsetProgress())
    private let pollState = Mutex(PollState())
    private let position = Mutex(Position())

    /// Re-read a partition from the expected offset when a later one arrives first (the local
    /// broker's live-reader gaps, see ``OffsetGaps``; measured: 1 to 4 records in 4,000 from two
    /// producers, and the first replies of a new reply topic that two simulators write).
    private let healOffsetGaps: Bool
    /// A group member reads a partition without a committed offset from its start
    /// (`auto.offset.reset` earliest), so a gap before its first message can be seen.
    private let groupStartsAtEarliest: Bool
    private static let maximumGapRereads = 5

    private let hooks: KafkaConsumer.RebalanceHooks
    /// Called on the polling thread when the fetches starve (see ``watchFetchStalls(_:)``).
    private let stallHandler = Mutex<(@Sendable () -> Void)?>(nil)
    private static let stallCheckInterval = Duration.seconds(1)
    /// Records carrying this header are handled without being delivered (see `KafkaConsumer`).
    private let skipped: SkippedRecords?

    init(
        subscription: KafkaConsumer.Subscription, bufferCapacity: Int, commitInterval: Duration, healOffsetGaps: Bool,
        groupStartsAtEarliest: Bool = false, skipping: KafkaHeader? = nil, hooks: KafkaConsumer.RebalanceHooks, logger: Logger
    ) {
        self.subscription = subscription
        self.skipped = skipping.map(SkippedRecords.init)
        self.hooks = hooks
        self.healOffsetGaps = healOffsetGaps
        self.groupStartsAtEarliest = groupStartsAtEarliest
        self.bufferCapacity = bufferCapacity
        self.commitInterval = commitInterval
        self.logger = logger
    }

    private var isGroupMember: Bool {
        if case .group = subscription { return true }
        return false
    }

    // MARK: Polling thread

    /// One iteration of the polling thread: position if needed, apply back-pressure, commit when
    /// due, then block in librdkafka for up to 100 ms for the next message.
    func pollOnce(_ handle: KafkaHandle, thread: PollingThread) {
        if !isGroupMember, !isPositioned {
            do {
                try assignExplicitly(handle)
            } catch {
                let failures = pollState.withLock { state in
                    state.positioningFailures += 1
                    return state.positioningFailures
                }
                // A topic not created yet is the normal start of a new deployment (whoever
                // provisions topics creates it in a moment), not a warning.
                let firstLevel: Logger.Level = (error as? KafkaError)?.isUnknownDestination == true ? .info : .warning
                logger.log(
                    level: failures == 1 ? firstLevel : .debug, "cannot position the consumer yet; retrying",
                    metadata: ["kafka.error": "\(error)"])
                thread.sleep(.milliseconds(500))
                return
            }
        }
        applyBackPressure(handle)
        commitIfDue(handle)
        assignAddedPartitionsIfDue(handle)
        checkForFetchStallIfDue(handle)

        // Block for the first message, then take whatever else librdkafka already holds without
        // waiting: under load the application gets its messages in batches, one hand-off each.
        // The batch never takes the buffer past its capacity: what is left stays in librdkafka's
        // queue until the buffer drains (or the partitions pause).
        let room = min(Self.maximumBatch, max(1, bufferCapacity - buffer.count))
        guard var next = rd_kafka_consumer_poll(handle.pointer, 100) else { return }
        var batch: [KafkaMessage] = []
        // Every message delivered or passed over, in the order polled (offsets increase within
        // a partition, which the offset bookkeeping relies on).
        var handled: [(partition: KafkaTopicPartition, offset: Int64, passedOver: Bool)] = []
        var topics = TopicNames()
        while true {
            switch accept(next, handle, topics: &topics) {
            case .deliver(let copy):
                batch.append(copy)
                handled.append((KafkaTopicPartition(topic: copy.topic, partition: copy.partition), copy.offset, false))
            case .passOver(let partition, let offset):
                handled.append((partition, offset, true))
            case .drop:
                break
            }
            rd_kafka_message_destroy(next)
            guard handled.count < room, let following = rd_kafka_consumer_poll(handle.pointer, 0) else { break }
            next = following
        }
        record(handled)
        if !handled.isEmpty { pollState.withLock { $0.readSinceStallCheck = true } }
        if !batch.isEmpty { buffer.push(batch) }
    }

    /// Calls `handler` (on the polling thread; it must not block) whenever the consumer's fetches
    /// have brought nothing for a few seconds while the broker reports records past the offsets
    /// expected next. Only with gap re-reading on (the `local` profile), which knows those offsets.
    func watchFetchStalls(_ handler: @escaping @Sendable () -> Void) {
        guard healOffsetGaps else { return }
        stallHandler.withLock { $0 = handler }
        pollState.withLock { $0.stallWatch = FetchStallWatch(patience: 3) }
    }

    /// Once a second: is some partition's reported end past the offset expected next, with
    /// nothing read since the last check? The ends are librdkafka's, cached from the last fetch
    /// responses (no request). The local broker reports the first offset of its last batch + 1,
    /// so an end past the expected offset always means records there.
    private func checkForFetchStallIfDue(_ handle: KafkaHandle) {
        let due = pollState.withLock { state in
            guard state.stallWatch != nil, state.lastStallCheck.duration(to: .now) >= Self.stallCheckInterval else { return false }
            state.lastStallCheck = .now
            return true
        }
        guard due else { return }
        let (assigned, positioned) = position.withLock { ($0.assignment, $0.positioned) }
        let expected = pollState.withLock { state in
            assigned.compactMap { partition in state.gaps.expectedOffset(of: partition).map { (partition, $0) } }
        }
        let behind = expected.contains { partition, next in
            var low: Int64 = 0
            var high: Int64 = 0
            let code = rd_kafka_get_watermark_offsets(handle.pointer, partition.topic, partition.partition, &low, &high)
            return code == RD_KAFKA_RESP_ERR_NO_ERROR && high > next
        }
        let starved = pollState.withLock { state in
            let progressed = state.readSinceStallCheck || state.paused || !positioned
            state.readSinceStallCheck = false
            return state.stallWatch?.check(behind: behind, progressed: progressed) ?? false
        }
        if starved, let handler = stallHandler.withLock({ $0 }) { handler() }
    }

    /// Notes where each partition's reading got to: in group mode what is in progress (a
    /// record passed over is done at once), otherwise where a rebuilt client resumes.
    private func record(_ handled: [(partition: KafkaTopicPartition, offset: Int64, passedOver: Bool)]) {
        guard !handled.isEmpty else { return }
        if isGroupMember {
            progress.withLock { progress in
                for (partition, offset, passedOver) in handled {
                    progress.handedOut(partition, offset: offset)
                    if passedOver { _ = progress.acknowledged(partition, offset: offset) }
                }
            }
        } else {
            resumeOffsets.withLock { offsets in
                for (partition, offset, _) in handled { offsets[partition] = offset + 1 }
            }
        }
    }

    /// How often a consumer that reads every partition of its topics asks whether partitions were
    /// added to them.
    static let partitionRefreshInterval = Duration.seconds(10)

    /// Assigns the partitions added to the subscription's topics since it was positioned (every
    /// ``partitionRefreshInterval``): replies or records hashed to them are read too.
    private func assignAddedPartitionsIfDue(_ handle: KafkaHandle) {
        guard case .allPartitions(let topics, _) = subscription, isPositioned else { return }
        let due = pollState.withLock { state in
            guard state.lastPartitionRefresh.duration(to: .now) >= Self.partitionRefreshInterval else { return false }
            state.lastPartitionRefresh = .now
            return true
        }
        guard due else { return }
        var counts: [String: Int] = [:]
        for topic in topics {
            guard let count = try? handle.partitionCount(of: topic, timeout: .seconds(1)) else { return }
            counts[topic] = count
        }
        let added = AssignmentPlan.added(to: assignment, counts: counts)
        guard !added.isEmpty else { return }
        logger.info("partitions added to the topics; assigning them", metadata: ["kafka.partitions": "\(added)"])
        do {
            try assignExplicitly(handle)
        } catch {
            logger.warning("cannot assign the added partitions yet; retrying", metadata: ["kafka.error": "\(error)"])
        }
    }

    /// The most messages handed to the application in one batch.
    private static let maximumBatch = 512

    /// What becomes of one polled message.
    private enum Acceptance {
        /// Copied out, for the application.
        case deliver(KafkaMessage)
        /// Handled without delivery: it carries the skipped header.
        case passOver(KafkaTopicPartition, offset: Int64)
        /// Not handled: an error, fetched after delivery stopped, or in an offset gap being re-read.
        case drop
    }

    /// Copies one polled message out of librdkafka, unless it is to be passed over or dropped.
    private func accept(_ message: UnsafeMutablePointer<rd_kafka_message_t>, _ handle: KafkaHandle, topics: inout TopicNames) -> Acceptance {
        let code = message.pointee.err
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let error = KafkaError(code, message: rd_kafka_message_errstr(message).map { String(cString: $0) })
            handle.callbacks.connectivity.record(error: error)
            // A group member subscribed to a topic not created yet hears so until it is.
            logger.log(level: error.isUnknownDestination ? .info : .warning, "consumer error", metadata: ["kafka.error": "\(error)"])
            return .drop
        }
        if pollState.withLock({ $0.deliveryStopped }) {
            return .drop  // fetched before the pause took effect; read again by the next owner
        }
        let topic = topics.name(of: message.pointee.rkt)
        let partition = KafkaTopicPartition(topic: topic, partition: message.pointee.partition)
        if healOffsetGaps, rereadGap(before: message.pointee.offset, in: partition, handle) {
            return .drop
        }
        if let skipped, skipped.matches(message) {
            return .passOver(partition, offset: message.pointee.offset)
        }
        return .deliver(KafkaMessage(copying: message, topic: topic))
    }

    /// Handles a message at `offset` against the offset expected next in its partition. Returns
    /// `true` when the message must be dropped because the partition was sent back to re-read
    /// the missing offsets first.
    private func rereadGap(before offset: Int64, in partition: KafkaTopicPartition, _ handle: KafkaHandle) -> Bool {
        let rereadFrom: Int64
        switch pollState.withLock({ $0.gaps.judge(offset, in: partition) }) {
        case .accept:
            return false
        case .acceptSkipping(let skipped):
            // Those offsets are never delivered: on the local broker, where no topic is compacted
            // or transactional, that is a record lost to this reader, so say it loudly.
            logger.warning(
                "offset gap persisted through \(Self.maximumGapRereads) re-reads; moving on without those offsets",
                metadata: ["kafka.partition": "\(partition)", "kafka.skipped": "\(skipped)"])
            return false
        case .reread(let from):
            rereadFrom = from
        }
        logger.debug("offset gap; re-reading", metadata: ["kafka.partition": "\(partition)", "kafka.expected": "\(rereadFrom)", "kafka.got": "\(offset)"])
        let list = PartitionList.make([(partition, offset: rereadFrom)])
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if let error = rd_kafka_seek_partitions(handle.pointer, list, 0) {
            logger.warning("cannot re-read an offset gap", metadata: ["kafka.error": "\(KafkaError(consuming: error))"])
            return false
        }
        return true
    }

    /// Forgets where a rebuilt client would resume in `topics` (they were created again).
    func forgetResumeOffsets(of topics: Set<String>) {
        guard !topics.isEmpty else { return }
        resumeOffsets.withLock { offsets in offsets = offsets.filter { !topics.contains($0.key.topic) } }
    }

    /// Expects each partition's next message at the offset it was just assigned at (only those
    /// of `entries`; every other partition's expectation is forgotten when `replacing`).
    private func expectOffsets(_ entries: [(KafkaTopicPartition, offset: Int64)], replacing: Bool) {
        pollState.withLock { state in
            if replacing { state.gaps.forgetAll() }
            for (partition, offset) in entries { state.gaps.expect(partition, at: offset) }
        }
    }

    /// Where a group member starts reading each newly assigned partition: its committed offset,
    /// or its log's start for a partition without one when the group starts at the earliest
    /// offset. Omits the others (librdkafka places them at an offset not known here). Asks the
    /// brokers, on the polling thread, for at most 2 seconds per question.
    private func groupStartOffsets(
        of partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>, client: OpaquePointer
    ) -> [(KafkaTopicPartition, offset: Int64)] {
        guard let copy = rd_kafka_topic_partition_list_copy(partitions) else { return [] }
        defer { rd_kafka_topic_partition_list_destroy(copy) }
        let code = rd_kafka_committed(client, copy, 2_000)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            logger.info("committed offsets not known; a gap before the first message is not re-read", metadata: ["kafka.error": "\(KafkaError(code))"])
            return []
        }
        return UnsafeBufferPointer(start: copy.pointee.elems, count: Int(copy.pointee.cnt)).compactMap { element in
            let partition = KafkaTopicPartition(topic: String(cString: element.topic), partition: element.partition)
            if element.offset >= 0 { return (partition, offset: element.offset) }
            guard groupStartsAtEarliest else { return nil }
            var low: Int64 = 0
            var high: Int64 = 0
            guard rd_kafka_query_watermark_offsets(client, element.topic, element.partition, &low, &high, 2_000) == RD_KAFKA_RESP_ERR_NO_ERROR
            else { return nil }
            return (partition, offset: low)
        }
    }

    /// Assigns the subscription's partitions at the offsets the broker reports now, so that
    /// "positioned" is a fact rather than a hope: `OFFSET_END` would be resolved later, and
    /// records produced in between would be skipped.
    ///
    /// Nothing here takes the high watermark for a record count. Starting at the end starts at
    /// it: a broker that under-reports it (Tansu 0.6 reports the last batch's first offset + 1)
    /// makes the consumer read the tail of that batch again, never skip a record. A rebuilt
    /// client resumes where it left off when the broker's log reaches that far, and from the
    /// log's start otherwise: under-reporting can only make it read again.
    private func assignExplicitly(_ handle: KafkaHandle) throws {
        let partitions: [KafkaTopicPartition]
        let start: KafkaConsumer.StartPosition
        switch subscription {
        case .group:
            return
        case .partitions(let chosen, let from):
            (partitions, start) = (chosen, from)
        case .allPartitions(let topics, let from):
            var all: [KafkaTopicPartition] = []
            for topic in topics {
                guard let count = try handle.partitionCount(of: topic, timeout: .seconds(2)) else {
                    throw KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, message: "topic \(topic) does not exist")
                }
                all += (0..<Int32(count)).map { KafkaTopicPartition(topic: topic, partition: $0) }
            }
            (partitions, start) = (all, from)
        }
        let resume = resumeOffsets.withLock { $0 }
        let previous = position.withLock { $0.assignment }
        let entries = try AssignmentPlan.offsets(for: partitions, previous: previous, resume: resume, start: start) { partition in
            try handle.watermarks(of: partition, timeout: .seconds(2))
        }
        let list = PartitionList.make(entries)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if healOffsetGaps { expectOffsets(entries, replacing: true) }
        let code = rd_kafka_assign(handle.pointer, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code) }
        pollState.withLock { $0.positioningFailures = 0 }
        resumeOffsets.withLock { offsets in
            for (partition, offset) in entries { offsets[partition] = offset }
        }
        logger.info(
            "consumer positioned", metadata: ["kafka.partitions": "\(entries.map { "\($0.0)@\($0.offset)" }.joined(separator: ","))"])
        markPositioned(assignment: partitions)
    }

    /// Pauses every assigned partition when the buffer is full and resumes them when it has
    /// drained to half, or while delivery is stopped or held. A paused partition resumes from the
    /// last message handed out.
    private func applyBackPressure(_ handle: KafkaHandle) {
        applyPause(handle.pointer)
    }

    private func applyPause(_ client: OpaquePointer) {
        let count = buffer.count
        guard let pause = pollState.withLock({ $0.pauseChange(buffered: count, capacity: bufferCapacity) }) else { return }
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(client, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if pause {
            rd_kafka_pause_partitions(client, list)
            logger.debug("partitions paused", metadata: ["kafka.buffered": "\(count)"])
        } else {
            rd_kafka_resume_partitions(client, list)
            logger.debug("partitions resumed", metadata: ["kafka.buffered": "\(count)"])
        }
    }

    /// Holds delivery (pauses every partition from the next poll) until ``release()``.
    func hold() {
        pollState.withLock { $0.held = true }
    }

    func release() {
        pollState.withLock { $0.held = false }
    }

    private func commitIfDue(_ handle: KafkaHandle) {
        guard isGroupMember else { return }
        let due = pollState.withLock { state in
            guard state.lastCommit.duration(to: .now) >= commitInterval else { return false }
            state.lastCommit = .now
            return true
        }
        guard due else { return }
        commit(progress.withLock { $0.uncommitted() }, handle, synchronously: false)
    }

    /// Commits every committable offset and waits (a bounded time) for the broker's answer.
    func commitAll(_ handle: KafkaHandle) {
        guard isGroupMember else { return }
        commit(progress.withLock { $0.uncommitted() }, handle, synchronously: true)
    }

    /// Commits every committable offset without waiting (before abandoning a client).
    func commitAllInBackground(_ handle: KafkaHandle) {
        guard isGroupMember else { return }
        commit(progress.withLock { $0.uncommitted() }, handle, synchronously: false)
    }

    private func commit(_ offsets: [KafkaTopicPartition: Int64], _ handle: KafkaHandle, synchronously: Bool) {
        guard !offsets.isEmpty else { return }
        if synchronously ? Self.commitAndWait(offsets, client: handle.pointer, logger: logger) : Self.commitInBackground(offsets, client: handle.pointer, logger: logger) {
            progress.withLock { $0.markCommitted(offsets) }
        }
    }

    private static func commitInBackground(_ offsets: [KafkaTopicPartition: Int64], client: OpaquePointer, logger: Logger) -> Bool {
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_commit(client, list, 1)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            logger.warning("offset commit failed", metadata: ["kafka.error": "\(KafkaError(code))"])
            return false
        }
        return true
    }

    /// Commits and waits for the broker's answer, for up to `timeout`: librdkafka's own
    /// synchronous commit waits without limit, which would hang a shutdown when the group
    /// coordinator is unreachable.
    private static func commitAndWait(
        _ offsets: [KafkaTopicPartition: Int64], client: OpaquePointer, logger: Logger, timeout: Duration = .seconds(5)
    ) -> Bool {
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let queue = rd_kafka_queue_new(client)
        defer { rd_kafka_queue_destroy(queue) }
        let code = rd_kafka_commit_queue(client, list, queue, nil, nil)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            logger.warning("offset commit failed", metadata: ["kafka.error": "\(KafkaError(code))"])
            return false
        }
        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds) else {
            logger.warning("offset commit not confirmed in time", metadata: ["timeout": "\(timeout)"])
            return false
        }
        defer { rd_kafka_event_destroy(event) }
        let result = rd_kafka_event_error(event)
        guard result == RD_KAFKA_RESP_ERR_NO_ERROR else {
            logger.warning("offset commit failed", metadata: ["kafka.error": "\(KafkaError(result))"])
            return false
        }
        return true
    }

    // MARK: Rebalances (called inside the consumer poll, on the polling thread)

    func rebalance(client: OpaquePointer, code: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(client)) == "COOPERATIVE"
        let changed = PartitionList.partitions(in: partitions)
        pollState.withLock { $0.gaps.forget(changed) }
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if healOffsetGaps {
                expectOffsets(groupStartOffsets(of: partitions, client: client), replacing: false)
            }
            if cooperative {
                if let error = rd_kafka_incremental_assign(client, partitions) {
                    logger.error("cannot take assigned partitions", metadata: ["kafka.error": "\(KafkaError(consuming: error))"])
                }
            } else {
                rd_kafka_assign(client, partitions)
            }
            pollState.withLock { $0.paused = false }
            logger.notice("partitions assigned", metadata: ["kafka.partitions": "\(changed.map(\.description).joined(separator: ","))"])
            hooks.assigned(changed)
            let assignment = cooperative ? self.assignment + changed : changed
            markPositioned(assignment: assignment)

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let revoked = Set(changed)
            // The application finishes what it started of these partitions first, so that it is
            // committed here rather than done twice by their next owner.
            hooks.revoking(changed)
            // Commit what is finished before another member takes these partitions over; what is
            // still in progress will be read again by that member.
            let offsets = progress.withLock { $0.uncommitted(in: revoked) }
            if !offsets.isEmpty, Self.commitAndWait(offsets, client: client, logger: logger) {
                progress.withLock { $0.markCommitted(offsets) }
            }
            progress.withLock { $0.remove(revoked) }
            buffer.removeAll { revoked.contains(KafkaTopicPartition(topic: $0.topic, partition: $0.partition)) }
            if cooperative {
                if let error = rd_kafka_incremental_unassign(client, partitions) { _ = KafkaError(consuming: error) }
            } else {
                rd_kafka_assign(client, nil)
            }
            position.withLock { $0.assignment.removeAll { revoked.contains($0) } }
            logger.notice("partitions revoked", metadata: ["kafka.partitions": "\(changed.map(\.description).joined(separator: ","))"])

        default:
            logger.error("rebalance failed", metadata: ["kafka.error": "\(KafkaError(code))"])
            rd_kafka_assign(client, nil)
        }
    }

    // MARK: Application side

    func stopDelivering() {
        pollState.withLock { $0.deliveryStopped = true }
        buffer.finish()
    }

    func acknowledge(_ message: KafkaMessage) {
        guard isGroupMember else { return }
        progress.withLock { _ = $0.acknowledged(KafkaTopicPartition(topic: message.topic, partition: message.partition), offset: message.offset) }
    }

    var inProgressCount: Int { progress.withLock { $0.inProgressCount } }

    var isPositioned: Bool { position.withLock { $0.positioned } }

    var assignment: [KafkaTopicPartition] { position.withLock { $0.assignment } }

    func waitUntilPositioned() async {
        await withCheckedContinuation { continuation in
            let ready = position.withLock { state in
                if state.positioned || state.closed { return true }
                state.waiters.append(continuation)
                return false
            }
            if ready { continuation.resume() }
        }
    }

    private func markPositioned(assignment: [KafkaTopicPartition]) {
        updatePosition { state in
            state.positioned = true
            state.assignment = assignment
        }
    }

    /// Changes the position state and wakes whoever waits for the consumer to be positioned (or
    /// closed).
    private func updatePosition(_ change: (inout Position) -> Void) {
        let waiters = position.withLock { state in
            change(&state)
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    /// For a consumer that assigns its own partitions: makes a new client resume each partition
    /// at the offset expected next, also where nothing was delivered yet (instead of at its start
    /// position again). Call with the old client's polling stopped.
    func resumeAtExpectedOffsets() {
        guard !isGroupMember else { return }
        let assigned = assignment
        let expected = pollState.withLock { state in
            assigned.compactMap { partition in state.gaps.expectedOffset(of: partition).map { (partition, $0) } }
        }
        resumeOffsets.withLock { offsets in
            for (partition, offset) in expected where offsets[partition] == nil { offsets[partition] = offset }
        }
    }

    /// Resets what belonged to the previous client before a new one starts: the new client must
    /// be positioned (or assigned by its group) again; acknowledgements of messages handed out
    /// before are ignored from now on.
    func prepareForNewClient() {
        position.withLock { state in
            state.positioned = false
            state.assignment = []
        }
        pollState.withLock { state in
            state.paused = false
            state.positioningFailures = 0
            state.gaps.forgetAll()
        }
        if isGroupMember {
            progress.withLock { $0 = OffsetProgress() }
            buffer.removeAll { _ in true }
        }
    }

    func closed() {
        updatePosition { state in
            state.closed = true
            state.positioned = false
        }
    }
}
