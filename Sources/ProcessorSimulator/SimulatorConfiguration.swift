import Kafka
import Payments
import PaymentsWire

/// How the processor simulator behaves.
public struct SimulatorConfiguration: Sendable, Hashable {
    public var kafka: KafkaConfiguration
    /// The request and default reply topics and how to create them.
    public var topics: PaymentTopics
    /// The consumer group the simulators share: each request is processed by one of them.
    public var groupID: String
    /// The original's `PROCESSING_DELAY_MS`: how long "the card network" takes per request.
    public var processingDelay: Duration
    /// Share of requests approved, from 0 to 1 (the original approves 80%).
    public var approvalRate: Double
    /// Requests processed at once; the consumer pauses beyond it.
    public var concurrency: Int
    /// The compacted topic where verdicts are journaled by transaction id, shared by every
    /// simulator, so that a repeated transaction gets its original verdict.
    public var verdictTopic: String
    /// How many verdicts to hold in memory (the journal holds them all).
    public var verdictCapacity: Int

    public init(
        kafka: KafkaConfiguration,
        topics: PaymentTopics = PaymentTopics(),
        groupID: String = "demosync-simulator",
        processingDelay: Duration = .milliseconds(2000),
        approvalRate: Double = 0.8,
        concurrency: Int = 1_000,
        verdictTopic: String = "payment-verdicts",
        verdictCapacity: Int = 100_000
    ) {
        self.kafka = kafka
        self.topics = topics
        self.groupID = groupID
        self.processingDelay = processingDelay
        self.approvalRate = approvalRate
        self.concurrency = concurrency
        self.verdictTopic = verdictTopic
        self.verdictCapacity = verdictCapacity
    }
}
