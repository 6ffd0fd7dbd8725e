import CRdKafka

extension KafkaMessage {
    /// Copies a consumed message out of librdkafka (the caller still destroys the original).
    init(copying message: UnsafePointer<rd_kafka_message_t>, topic: String) {
        let raw = message.pointee
        let key = raw.key.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.key_len)) }
        let value = raw.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: raw.len)) } ?? []

        var headers: [KafkaHeader] = []
        var headerList: OpaquePointer?
        if rd_kafka_message_headers(message, &headerList) == RD_KAFKA_RESP_ERR_NO_ERROR, let headerList {
            headers.reserveCapacity(rd_kafka_header_cnt(headerList))
            var index = 0
            var name: UnsafePointer<CChar>?
            var headerValue: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(headerList, index, &name, &headerValue, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                if let name {
                    let bytes = headerValue.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                    headers.append(KafkaHeader(name: String(cString: name), value: bytes))
                }
                index += 1
            }
        }

        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        self.init(
            topic: topic, partition: raw.partition, offset: raw.offset, key: key, value: value, headers: headers,
            timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp)
    }
}

/// The names of the topics a poll's messages come from, made once per topic rather than once per
/// message (a name longer than 15 bytes is a heap allocation in Swift).
struct TopicNames {
    private var names: [(topic: OpaquePointer, name: String)] = []

    mutating func name(of topic: OpaquePointer?) -> String {
        guard let topic else { return "" }
        if let known = names.first(where: { $0.topic == topic }) { return known.name }
        let name = String(cString: rd_kafka_topic_name(topic))
        names.append((topic, name))
        return name
    }
}
