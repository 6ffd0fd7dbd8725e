import Kafka
import Payments
import PaymentsWire

/// How `serve` talks to Kafka and how long it waits.
public struct GatewayConfiguration: Sendable, Hashable {
    public var kafka: KafkaConfiguration
    /// The request and reply topics and how to create them.
    public var topics: PaymentTopics
    /// How long a capture waits for the processor before answering 504.
    public var captureTimeout: Duration
    /// Captures allowed to wait at once on this replica; beyond it, 503 at once.
    public var maxPendingCaptures: Int
    /// How this replica receives its replies.
    public var replyRouting: ReplyRouting
    /// How many processor answers (including late ones) to keep for `GET /api/v1/payments/{id}`.
    public var outcomeCapacity: Int
    /// How long to keep them.
    public var outcomeRetention: Duration
    /// How many finished captures to remember by idempotency key, for replays.
    public var idempotencyCapacity: Int
    /// How long a finished capture is replayed for its key.
    public var idempotencyRetention: Duration

    public init(
        kafka: KafkaConfiguration,
        topics: PaymentTopics = PaymentTopics(),
        captureTimeout: Duration = .seconds(30),
        maxPendingCaptures: Int = 50_000,
        replyRouting: ReplyRouting = .allPartitions,
        outcomeCapacity: Int = 100_000,
        outcomeRetention: Duration = .seconds(24 * 3_600),
        idempotencyCapacity: Int = 100_000,
        idempotencyRetention: Duration = .seconds(24 * 3_600)
    ) {
        self.kafka = kafka
        self.topics = topics
        self.captureTimeout = captureTimeout
        self.maxPendingCaptures = maxPendingCaptures
        self.replyRouting = replyRouting
        self.outcomeCapacity = outcomeCapacity
        self.outcomeRetention = outcomeRetention
        self.idempotencyCapacity = idempotencyCapacity
        self.idempotencyRetention = idempotencyRetention
    }

    /// The correlation registry's part of it.
    var registry: CorrelationRegistry.Configuration {
        CorrelationRegistry.Configuration(
            timeout: captureTimeout, maxPending: maxPendingCaptures, idempotencyCapacity: idempotencyCapacity,
            idempotencyRetention: idempotencyRetention, outcomeCapacity: outcomeCapacity, outcomeRetention: outcomeRetention)
    }
}
