import CRdKafka
import Logging
import Synchronization

/// The state a ``KafkaConsumer`` shares between its polling thread, librdkafka's rebalance
/// callback and the application's tasks.
final class ConsumerCore: RebalanceHandler {
    private struct PollState {
        var paused = false
        var deliveryStopped = false
        var lastCommit = ContinuousClock.now
        var positioningFailures = 0
    }

    private struct Position {
        var positioned = false
        var closed = false
        var assignment: [KafkaTopicPartition] = []
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    let buffer = MessageBuffer()
    private let subscription: KafkaConsumer.Subscription
    private let bufferCapacity: Int
    private let commitInterval: Duration
    private let logger: Logger
    private let progress = Mutex(OffsetProgress())
    private let pollState = Mutex(PollState())
    private let position = Mutex(Position())

    init(subscription: KafkaConsumer.Subscription, bufferCapacity: Int, commitInterval: Duration, logger: Logger) {
        self.subscription = subscription
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
                logger.log(
                    level: failures == 1 ? .warning : .debug, "cannot position the consumer yet; retrying",
                    metadata: ["kafka.error": "\(error)"])
                thread.sleep(.milliseconds(500))
                return
            }
        }
        applyBackPressure(handle)
        commitIfDue(handle)

        guard let message = rd_kafka_consumer_poll(handle.pointer, 100) else { return }
        defer { rd_kafka_message_destroy(message) }
        let code = message.pointee.err
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
            let error = KafkaError(code, message: rd_kafka_message_errstr(message).map { String(cString: $0) })
            handle.callbacks.connectivity.record(error: error)
            logger.warning("consumer error", metadata: ["kafka.error": "\(error)"])
            return
        }
        if pollState.withLock({ $0.deliveryStopped }) {
            return  // fetched before the pause took effect; read again by the next owner
        }
        let copy = KafkaMessage(copying: message)
        if isGroupMember {
            progress.withLock { $0.handedOut(KafkaTopicPartition(topic: copy.topic, partition: copy.partition), offset: copy.offset) }
        }
        buffer.push(copy)
    }

    /// Assigns the subscription's partitions at the offsets the broker reports now, so that
    /// "positioned" is a fact rather than a hope: `OFFSET_END` would be resolved later, and
    /// records produced in between would be skipped.
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
        let entries = try partitions.map { partition in
            let marks = try handle.watermarks(of: partition, timeout: .seconds(2))
            return (partition, offset: start == .end ? marks.high : marks.low)
        }
        let list = PartitionList.make(entries)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_assign(handle.pointer, list)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code) }
        pollState.withLock { $0.positioningFailures = 0 }
        logger.info(
            "consumer positioned", metadata: ["kafka.partitions": "\(entries.map { "\($0.0)@\($0.offset)" }.joined(separator: ","))"])
        markPositioned(assignment: partitions)
    }

    /// Pauses every assigned partition when the buffer is full and resumes them when it has
    /// drained to half. A paused partition resumes from the last message handed out.
    private func applyBackPressure(_ handle: KafkaHandle) {
        let count = buffer.count
        let action: Bool? = pollState.withLock { state in
            if state.deliveryStopped {
                guard !state.paused else { return nil }
                state.paused = true
                return true
            }
            if !state.paused, count >= bufferCapacity {
                state.paused = true
                return true
            }
            if state.paused, count <= bufferCapacity / 2 {
                state.paused = false
                return false
            }
            return nil
        }
        guard let pause = action else { return }
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(handle.pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if pause {
            rd_kafka_pause_partitions(handle.pointer, list)
            logger.debug("buffer full; partitions paused", metadata: ["kafka.buffered": "\(count)"])
        } else {
            rd_kafka_resume_partitions(handle.pointer, list)
            logger.debug("buffer drained; partitions resumed", metadata: ["kafka.buffered": "\(count)"])
        }
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

    /// Commits every committable offset and waits for the broker's answer (used at close).
    func commitAll(_ handle: KafkaHandle) {
        guard isGroupMember else { return }
        commit(progress.withLock { $0.uncommitted() }, handle, synchronously: true)
    }

    private func commit(_ offsets: [KafkaTopicPartition: Int64], _ handle: KafkaHandle, synchronously: Bool) {
        guard !offsets.isEmpty else { return }
        let list = PartitionList.make(offsets)
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let code = rd_kafka_commit(handle.pointer, list, synchronously ? 0 : 1)
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            progress.withLock { $0.markCommitted(offsets) }
        } else {
            logger.warning("offset commit failed", metadata: ["kafka.error": "\(KafkaError(code))"])
        }
    }

    // MARK: Rebalances (called inside the consumer poll, on the polling thread)

    func rebalance(client: OpaquePointer, code: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(client)) == "COOPERATIVE"
        let changed = PartitionList.partitions(in: partitions)
        switch code {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let error = rd_kafka_incremental_assign(client, partitions) {
                    logger.error("cannot take assigned partitions", metadata: ["kafka.error": "\(KafkaError(consuming: error))"])
                }
            } else {
                rd_kafka_assign(client, partitions)
            }
            pollState.withLock { $0.paused = false }
            logger.info("partitions assigned", metadata: ["kafka.partitions": "\(changed.map(\.description).joined(separator: ","))"])
            let assignment = cooperative ? self.assignment + changed : changed
            markPositioned(assignment: assignment)

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let revoked = Set(changed)
            // Commit what is finished before another member takes these partitions over; what is
            // still in progress will be read again by that member.
            let offsets = progress.withLock { $0.uncommitted(in: revoked) }
            if !offsets.isEmpty {
                let list = PartitionList.make(offsets)
                if rd_kafka_commit(client, list, 0) == RD_KAFKA_RESP_ERR_NO_ERROR {
                    progress.withLock { $0.markCommitted(offsets) }
                }
                rd_kafka_topic_partition_list_destroy(list)
            }
            progress.withLock { $0.remove(revoked) }
            buffer.removeAll { revoked.contains(KafkaTopicPartition(topic: $0.topic, partition: $0.partition)) }
            if cooperative {
                if let error = rd_kafka_incremental_unassign(client, partitions) { _ = KafkaError(consuming: error) }
            } else {
                rd_kafka_assign(client, nil)
            }
            position.withLock { $0.assignment.removeAll { revoked.contains($0) } }
            logger.info("partitions revoked", metadata: ["kafka.partitions": "\(changed.map(\.description).joined(separator: ","))"])

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
        let waiters = position.withLock { state in
            state.positioned = true
            state.assignment = assignment
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }

    func closed() {
        let waiters = position.withLock { state in
            state.closed = true
            state.positioned = false
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        waiters.forEach { $0.resume() }
    }
}
