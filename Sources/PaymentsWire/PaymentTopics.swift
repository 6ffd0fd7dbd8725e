import Kafka

/// The topics of the payment pipeline (the original's `KAFKA_REQUEST_TOPIC` and
/// `KAFKA_RESPONSE_TOPIC`) and the layout to create them with, shared by `serve` and `simulate`.
public struct PaymentTopics: Sendable, Hashable {
    /// Where capture requests go.
    public var request: String
    /// Where processors answer by default.
    public var reply: String
    /// Partitions of the topics created here.
    public var partitions: Int
    /// Create missing topics at start-up and after broker outages; `false` when topics are
    /// managed elsewhere (then they are only checked).
    public var createMissing: Bool

    public init(request: String = "payment-requests", reply: String = "payment-responses", partitions: Int = 3, createMissing: Bool = true) {
        self.request = request
        self.reply = reply
        self.partitions = partitions
        self.createMissing = createMissing
    }

    /// The request and reply topics, plus `extra` ones, as topics to create.
    public func specifications(adding extra: [KafkaTopicSpecification] = []) -> [KafkaTopicSpecification] {
        [KafkaTopicSpecification(name: request, partitions: partitions), KafkaTopicSpecification(name: reply, partitions: partitions)] + extra
    }
}
