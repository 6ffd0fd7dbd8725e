import CRdKafka
import Foundation

extension KafkaHandle {
    /// The broker's identifier (UUID, base64) of each topic, or `nil` for a topic it does not
    /// know. A topic deleted and created again under the same name gets a new identifier: that is
    /// how a consumer tells a broker that came back empty from one that merely dropped its
    /// connections. Blocks for up to `timeout`.
    func topicIdentities(of topics: [String], timeout: Duration) throws -> [String: String?] {
        guard !topics.isEmpty else { return [:] }
        let collection = topics.withCStrings { names in
            rd_kafka_TopicCollection_of_topic_names(names.baseAddress, names.count)
        }
        defer { rd_kafka_TopicCollection_destroy(collection) }

        return try adminRequest(RD_KAFKA_ADMIN_OP_DESCRIBETOPICS, timeout: timeout, what: "describing topics") { options, queue in
            rd_kafka_DescribeTopics(pointer, collection, options, queue)
        } read: { event in
            var count = 0
            let descriptions = rd_kafka_DescribeTopics_result_topics(rd_kafka_event_DescribeTopics_result(event), &count)
            var identities: [String: String?] = [:]
            for index in 0..<count {
                guard let description = descriptions?[index] else { continue }
                let name = String(cString: rd_kafka_TopicDescription_name(description))
                let error = rd_kafka_TopicDescription_error(description)
                let code = rd_kafka_error_code(error)
                switch code {
                case RD_KAFKA_RESP_ERR_NO_ERROR:
                    identities[name] = rd_kafka_TopicDescription_topic_id(description).flatMap { rd_kafka_Uuid_base64str($0) }.map { String(cString: $0) }
                case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
                    identities[name] = .some(nil)
                default:
                    throw KafkaError(code, message: rd_kafka_error_string(error).map { String(cString: $0) })
                }
            }
            return identities
        }
    }
}

extension Array where Element == String {
    /// Calls `body` with the strings as C strings that live for the duration of the call.
    fileprivate func withCStrings<Result>(_ body: (UnsafeMutableBufferPointer<UnsafePointer<CChar>?>) -> Result) -> Result {
        let copies = map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers = copies.map { UnsafePointer<CChar>($0) }
        return pointers.withUnsafeMutableBufferPointer { body($0) }
    }
}
