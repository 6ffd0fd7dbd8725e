import CRdKafka

/// Recognises the records a consumer passes over (``KafkaConsumer``'s `skipping`): those whose
/// last header of a name has a value. Read in librdkafka's own header list, so a skipped record
/// costs no copy, no allocation on the Swift side, and no hand-off to the application.
struct SkippedRecords: Sendable {
    private let name: String
    private let value: [UInt8]

    init(_ header: KafkaHeader) {
        name = header.name
        value = header.value
    }

    func matches(_ message: UnsafeMutablePointer<rd_kafka_message_t>) -> Bool {
        var headers: OpaquePointer?
        guard rd_kafka_message_headers(message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR, let headers else { return false }
        var found: UnsafeRawPointer?
        var size = 0
        let code = name.withCString { rd_kafka_header_get_last(headers, $0, &found, &size) }
        guard code == RD_KAFKA_RESP_ERR_NO_ERROR, size == value.count else { return false }
        guard let found else { return value.isEmpty }
        return value.withUnsafeBytes { $0.elementsEqual(UnsafeRawBufferPointer(start: found, count: size)) }
    }
}
