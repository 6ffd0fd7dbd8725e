/// Tells a reader when it has read everything written to some partitions before a point in
/// time, without trusting the broker's high watermark.
///
/// A barrier is a marker record produced, with acknowledgements, to each partition: every record
/// acknowledged there before the barrier was placed has a lower offset than its marker, so a
/// reader that has reached the marker's offset in each partition has read them all. Brokers that
/// under-report their high watermark (Tansu 0.6, after multi-record batches) make the usual
/// "read up to the high watermark" stop early; a marker's offset comes from its delivery report,
/// which they get right.
///
/// Markers carry the ``markerHeader`` header and the key ``markerKey`` (a compacted topic refuses
/// records without a key, and keeps only the latest marker); readers skip them
/// (``isMarker(_:)``).
public enum KafkaReadBarrier {
    /// The header that marks a barrier record.
    public static let markerHeader = "read-barrier"
    /// The key of every marker.
    public static let markerKey = "read-barrier"

    /// Places a marker in each of `partitions` and returns their offsets.
    public static func place(in partitions: [KafkaTopicPartition], using producer: KafkaProducer) async throws(KafkaError) -> [KafkaTopicPartition: Int64] {
        var offsets: [KafkaTopicPartition: Int64] = [:]
        for partition in partitions {
            let report = try await producer.send(
                KafkaRecord(
                    topic: partition.topic, partition: partition.partition, key: markerKey, value: [],
                    headers: [KafkaHeader(name: markerHeader, value: "1")]))
            guard let offset = report.offset else {
                throw KafkaError.client("the broker did not report the offset of a read barrier in \(partition)")
            }
            offsets[partition] = offset
        }
        return offsets
    }

    /// Whether a message is a barrier marker rather than data.
    public static func isMarker(_ message: KafkaMessage) -> Bool {
        message.headers.contains { $0.name == markerHeader }
    }
}
