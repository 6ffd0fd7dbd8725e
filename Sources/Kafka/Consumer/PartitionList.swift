import CRdKafka

/// Conversions between Swift values and librdkafka's `rd_kafka_topic_partition_list_t`.
enum PartitionList {
    /// A new list that the caller must free with `rd_kafka_topic_partition_list_destroy`.
    static func make(_ entries: [(KafkaTopicPartition, offset: Int64?)]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        let list = rd_kafka_topic_partition_list_new(Int32(entries.count))!
        for (partition, offset) in entries {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
            if let offset { element.pointee.offset = offset }
        }
        return list
    }

    static func make(_ offsets: [KafkaTopicPartition: Int64]) -> UnsafeMutablePointer<rd_kafka_topic_partition_list_t> {
        make(offsets.map { ($0.key, offset: $0.value) })
    }

    static func partitions(in list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [KafkaTopicPartition] {
        UnsafeBufferPointer(start: list.pointee.elems, count: Int(list.pointee.cnt)).map {
            KafkaTopicPartition(topic: String(cString: $0.topic), partition: $0.partition)
        }
    }
}
