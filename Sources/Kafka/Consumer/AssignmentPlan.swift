/// Where a consumer that assigns its own partitions reads each of them from: the decision,
/// apart from the broker calls that feed it, so that it can be checked with any metadata.
enum AssignmentPlan {
    /// The offset to assign each of `partitions` at.
    ///
    /// - Parameters:
    ///   - previous: the partitions assigned before, empty at the first assignment. A partition
    ///     not among them at a later assignment was added to its topic since (operators add
    ///     partitions to scale): it is read from its beginning, since everything in it was
    ///     produced after the consumer was first positioned.
    ///   - resume: the offset after the last message delivered, per partition, when the client
    ///     was rebuilt or re-assigned.
    ///   - watermarks: the broker's low and high offsets per partition.
    static func offsets(
        for partitions: [KafkaTopicPartition], previous: [KafkaTopicPartition], resume: [KafkaTopicPartition: Int64],
        start: KafkaConsumer.StartPosition, watermarks: (KafkaTopicPartition) throws -> (low: Int64, high: Int64)
    ) rethrows -> [(KafkaTopicPartition, offset: Int64)] {
        let known = Set(previous)
        return try partitions.map { partition in
            let marks = try watermarks(partition)
            if let offset = resume[partition] {
                // Where we left off, unless the broker's log now ends before that (it came back
                // without its data), then from what it has. A broker that under-reports its high
                // watermark makes this read the partition again, never skip a record.
                return (partition, offset: offset <= marks.high ? max(offset, marks.low) : marks.low)
            }
            if !known.isEmpty, !known.contains(partition) { return (partition, offset: marks.low) }
            return (partition, offset: start == .end ? marks.high : marks.low)
        }
    }

    /// The partitions of `topics` that `assigned` lacks, given each topic's partition count now.
    static func added(to assigned: [KafkaTopicPartition], counts: [String: Int]) -> [KafkaTopicPartition] {
        let have = Set(assigned)
        return counts.sorted { $0.key < $1.key }.flatMap { topic, count in
            (0..<Int32(count)).map { KafkaTopicPartition(topic: topic, partition: $0) }.filter { !have.contains($0) }
        }
    }
}
