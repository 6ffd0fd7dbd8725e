import CRdKafka

/// Blocking metadata calls on a client handle. Callers run them through ``runBlocking(_:_:)``.
extension KafkaHandle {
    /// The number of partitions of `topic`, or `nil` when the broker does not know the topic.
    func partitionCount(of topic: String, timeout: Duration) throws -> Int? {
        let topicHandle = rd_kafka_topic_new(pointer, topic, nil)
        defer { if let topicHandle { rd_kafka_topic_destroy(topicHandle) } }
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(pointer, 0, topicHandle, &metadata, timeout.milliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(code) }
        defer { rd_kafka_metadata_destroy(metadata) }
        callbacks.connectivity.recordSuccess()
        let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
        guard let entry = topics.first(where: { String(cString: $0.topic) == topic }) else { return nil }
        switch entry.err {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            return Int(entry.partition_cnt)
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
            return nil
        default:
            throw KafkaError(entry.err)
        }
    }

    /// A metadata round trip with no topics: the cheapest proof that a broker answers.
    func probeBrokers(timeout: Duration) throws {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let code = rd_kafka_metadata(pointer, 0, nil, &metadata, timeout.milliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError(code) }
        rd_kafka_metadata_destroy(metadata)
    }

    /// The low and high watermarks of a partition, asked of the broker (not the local cache).
    func watermarks(of partition: KafkaTopicPartition, timeout: Duration) throws -> (low: Int64, high: Int64) {
        var low: Int64 = 0
        var high: Int64 = 0
        let code = rd_kafka_query_watermark_offsets(pointer, partition.topic, partition.partition, &low, &high, timeout.milliseconds)
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(code) }
        return (low, high)
    }
}

extension Duration {
    /// Whole milliseconds, clamped to what librdkafka's `int` timeouts accept.
    var milliseconds: Int32 {
        let (seconds, attoseconds) = components
        let total = seconds * 1000 + attoseconds / 1_000_000_000_000_000
        return Int32(clamping: max(0, total))
    }
}
