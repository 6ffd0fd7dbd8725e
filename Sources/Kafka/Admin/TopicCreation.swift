import CRdKafka

/// A topic the application needs, with the layout to create it with when it is missing.
public struct KafkaTopicSpecification: Sendable, Hashable {
    public var name: String
    public var partitions: Int
    /// `-1` lets the broker use its default replication factor.
    public var replicationFactor: Int
    /// Topic configuration, such as `cleanup.policy=compact`.
    public var configs: [String: String]

    public init(name: String, partitions: Int = 3, replicationFactor: Int = -1, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

extension KafkaHandle {
    /// Creates the topics that do not exist yet; a topic that exists is left exactly as it is.
    /// Blocks for up to `timeout`.
    func createTopicsIfMissing(_ topics: [KafkaTopicSpecification], timeout: Duration) throws -> [String] {
        guard !topics.isEmpty else { return [] }
        var errorText = [CChar](repeating: 0, count: 512)
        var newTopics: [OpaquePointer?] = []
        defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
        for topic in topics {
            guard
                let newTopic = rd_kafka_NewTopic_new(
                    topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errorText, errorText.count)
            else {
                throw KafkaError.client("invalid topic \(topic.name): \(errorText.nulTerminatedText)", code: RD_KAFKA_RESP_ERR__INVALID_ARG)
            }
            for (key, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                let code = rd_kafka_NewTopic_set_config(newTopic, key, value)
                guard code == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    rd_kafka_NewTopic_destroy(newTopic)
                    throw KafkaError(code, message: "invalid configuration \(key)=\(value) for topic \(topic.name)")
                }
            }
            newTopics.append(newTopic)
        }

        return try adminRequest(RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout: timeout, what: "creating topics") { options, queue in
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(pointer, buffer.baseAddress, buffer.count, options, queue)
            }
        } read: { event in
            var resultCount = 0
            let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &resultCount)
            var created: [String] = []
            for index in 0..<resultCount {
                guard let result = results?[index] else { continue }
                let name = String(cString: rd_kafka_topic_result_name(result))
                let code = rd_kafka_topic_result_error(result)
                switch code {
                case RD_KAFKA_RESP_ERR_NO_ERROR:
                    created.append(name)
                case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
                    continue
                default:
                    let message = rd_kafka_topic_result_error_string(result).map { String(cString: $0) }
                    throw KafkaError(code, message: "cannot create topic \(name): \(message ?? String(cString: rd_kafka_err2str(code)))")
                }
            }
            return created
        }
    }
}
