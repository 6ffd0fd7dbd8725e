import DequeModule

/// Tracks, per partition, which handed-out messages have been acknowledged, and so which offset
/// may be committed: the one after the longest acknowledged prefix. Messages are processed
/// concurrently and finish out of order; a commit must never skip one still in progress.
struct OffsetProgress: Sendable {
    private struct Entry {
        let offset: Int64
        var acknowledged = false
    }

    private struct Partition {
        /// Handed-out, not yet committable messages, in offset order.
        var pending: Deque<Entry> = []
        /// The offset to commit (the next one to read), once something is committable.
        var committable: Int64?
        var committed: Int64?
    }

    private var partitions: [KafkaTopicPartition: Partition] = [:]

    /// Records a message handed to the application.
    mutating func handedOut(_ partition: KafkaTopicPartition, offset: Int64) {
        partitions[partition, default: Partition()].pending.append(Entry(offset: offset))
    }

    /// Records that the application finished with a message. Returns `false` when the message is
    /// unknown (its partition was revoked since, or it was acknowledged already).
    @discardableResult
    mutating func acknowledged(_ partition: KafkaTopicPartition, offset: Int64) -> Bool {
        guard var state = partitions[partition] else { return false }
        // Offsets are appended in increasing order, so binary search finds the entry.
        var low = state.pending.startIndex
        var high = state.pending.endIndex
        while low < high {
            let middle = (low + high) / 2
            if state.pending[middle].offset < offset { low = middle + 1 } else { high = middle }
        }
        guard low < state.pending.endIndex, state.pending[low].offset == offset, !state.pending[low].acknowledged else {
            return false
        }
        state.pending[low].acknowledged = true
        while let first = state.pending.first, first.acknowledged {
            state.pending.removeFirst()
            state.committable = first.offset + 1
        }
        partitions[partition] = state
        return true
    }

    /// Offsets that advanced since they were last committed.
    func uncommitted() -> [KafkaTopicPartition: Int64] {
        var result: [KafkaTopicPartition: Int64] = [:]
        for (partition, state) in partitions {
            if let committable = state.committable, committable != state.committed {
                result[partition] = committable
            }
        }
        return result
    }

    /// Offsets that advanced, restricted to some partitions (those being revoked).
    func uncommitted(in subset: Set<KafkaTopicPartition>) -> [KafkaTopicPartition: Int64] {
        uncommitted().filter { subset.contains($0.key) }
    }

    mutating func markCommitted(_ offsets: [KafkaTopicPartition: Int64]) {
        for (partition, offset) in offsets {
            partitions[partition]?.committed = offset
        }
    }

    /// Forgets partitions that are no longer assigned; later acknowledgements of their messages
    /// are ignored (another member now owns them and will read them again).
    mutating func remove(_ revoked: Set<KafkaTopicPartition>) {
        for partition in revoked { partitions[partition] = nil }
    }

    /// Messages handed out and not yet acknowledged, over all partitions.
    var inProgressCount: Int {
        partitions.values.reduce(0) { $0 + $1.pending.lazy.filter { !$0.acknowledged }.count }
    }
}
