import Kafka

/// How `serve` talks to Kafka and how long it waits.
public struct GatewayConfiguration: Sendable, Hashable {
    public var kafka: KafkaConfiguration
    /// Where capture requests go (the original's `KAFKA_REQUEST_TOPIC`).
    public var requestTopic: String
    /// Where processors answer (the original's `KAFKA_RESPONSE_TOPIC`).
    public var replyTopic: String
    /// How long a capture waits for the processor before answering 504.
    public var captureTimeout: Duration
    /// Create the topics at start-up when they are missing.
    public var createTopics: Bool
    /// Partitions for topics this service creates.
    public var topicPartitions: Int
    /// Captures allowed to wait at once on this replica; beyond it, 503 at once.
    public var maxPendingCaptures: Int
    /// How this replica receives its replies.
    public var replyRouting: ReplyRouting
    /// How many processor answers (including late ones) to keep for `GET /api/v1/payments/{id}`.
    public var outcomeCapacity: Int
    /// How long to keep them.
    public var outcomeRetention: Duration

    public init(
        kafka: KafkaConfiguration,
        requestTopic: String = "payment-requests",
        replyTopic: String = "payment-responses",
        captureTimeout: Duration = .seconds(30),
        createTopics: Bool = true,
        topicPartitions: Int = 3,
        maxPendingCaptures: Int = 50_000,
        replyRouting: ReplyRouting = .allPartitions,
        outcomeCapacity: Int = 100_000,
        outcomeRetention: Duration = .seconds(3_600)
    ) {
        self.kafka = kafka
        self.requestTopic = requestTopic
        self.replyTopic = replyTopic
        self.captureTimeout = captureTimeout
        self.createTopics = createTopics
        self.topicPartitions = topicPartitions
        self.maxPendingCaptures = maxPendingCaptures
        self.replyRouting = replyRouting
        self.outcomeCapacity = outcomeCapacity
        self.outcomeRetention = outcomeRetention
    }
}
