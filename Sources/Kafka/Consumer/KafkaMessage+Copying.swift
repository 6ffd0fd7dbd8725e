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
            headers = Self.copyHeaders(headerList)
        }

        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        self.init(
            topic: topic, partition: raw.partition, offset: raw.offset, key: key, value: value, headers: headers,
            timestampMilliseconds: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp)
    }
}

extension KafkaMessage {
    /// The headers of a consumed message, their values copied into one buffer that they share:
    /// an array of its own for every value was most of the heap allocations of a consumed
    /// message.
    fileprivate static func copyHeaders(_ list: OpaquePointer) -> [KafkaHeader] {
        var name: UnsafePointer<CChar>?
        var value: UnsafeRawPointer?
        var size = 0
        var count = 0
        var total = 0
        while rd_kafka_header_get_all(list, count, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            count += 1
            total += size
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(total)
        for index in 0..<count where rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            if let value { buffer.append(contentsOf: UnsafeRawBufferPointer(start: value, count: size)) }
        }
        // The buffer is complete before any header shares it (appending to it afterwards would
        // copy it).
        var headers: [KafkaHeader] = []
        headers.reserveCapacity(count)
        var start = 0
        for index in 0..<count where rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
            let end = start + (value == nil ? 0 : size)
            if let name { headers.append(KafkaHeader(name: String(cString: name), sharing: buffer[start..<end])) }
            start = end
        }
        return headers
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
