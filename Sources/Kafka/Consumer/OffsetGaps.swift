/// The offset a consumer expects next in each partition, and what to do with a message that comes
/// after a gap: the decision behind the `local` profile's gap re-reading, apart from librdkafka,
/// so that it can be checked with any sequence of offsets.
///
/// The local broker (Tansu 0.6) can answer a fetch with a record batch before an earlier one,
/// written at the same moment by another producer, is listed (reproduced without our client:
/// bench/reproductions, `tansu_live_gap.py`). A reader that accepts the later batch has moved past
/// the earlier one for good, so the partition is read again from the expected offset, a few times
/// at most: a gap that persists is real (a compacted topic, transaction markers) and is accepted.
struct OffsetGaps: Sendable {
    /// What becomes of a message, given the offset expected next in its partition.
    enum Judgement: Equatable {
        /// In order, or the first message of a partition nothing is expected of: deliver it.
        case accept
        /// After a gap: drop it and read the partition again from this offset.
        case reread(from: Int64)
        /// After a gap that persisted through every re-read: deliver it, those offsets are gone.
        case acceptSkipping(Range<Int64>)
    }

    /// Re-reads of one gap before it is taken as real.
    let maximumRereads: Int
    private var expected: [KafkaTopicPartition: Int64] = [:]
    private var rereads: [KafkaTopicPartition: Int] = [:]

    init(maximumRereads: Int) {
        self.maximumRereads = maximumRereads
    }

    /// The next message of `partition` must be at `offset`: where it was just assigned (or
    /// sought). Without this, a gap before the first message after an assignment goes unseen,
    /// and the records in it are never read.
    mutating func expect(_ partition: KafkaTopicPartition, at offset: Int64) {
        expected[partition] = offset
        rereads[partition] = nil
    }

    /// Expects nothing of `partitions` any more (revoked, or assigned at an offset not known).
    mutating func forget<Partitions: Sequence<KafkaTopicPartition>>(_ partitions: Partitions) {
        for partition in partitions {
            expected[partition] = nil
            rereads[partition] = nil
        }
    }

    /// The offset expected next in `partition`, if any.
    func expectedOffset(of partition: KafkaTopicPartition) -> Int64? { expected[partition] }

    mutating func forgetAll() {
        expected.removeAll()
        rereads.removeAll()
    }

    /// Judges a message at `offset` of `partition`, and moves the expectation on when it is
    /// delivered.
    mutating func judge(_ offset: Int64, in partition: KafkaTopicPartition) -> Judgement {
        let next = expected[partition]
        if let next, offset > next {
            let done = rereads[partition, default: 0]
            if done < maximumRereads {
                rereads[partition] = done + 1
                return .reread(from: next)
            }
        }
        rereads[partition] = nil
        expected[partition] = offset + 1
        if let next, offset > next { return .acceptSkipping(next..<offset) }
        return .accept
    }
}
