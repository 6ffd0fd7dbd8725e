import Kafka

/// The topics of the payment pipeline (the original's `KAFKA_REQUEST_TOPIC` and
/// `KAFKA_RESPONSE_TOPIC`) and the layout to create them with, shared by `serve` and `simulate`.
public struct PaymentTopics: Sendable, Hashable {
    /// Where capture requests go.
    public var request: String
    /// Where processors answer by default.
    public var reply: String
    /// Partitions of the request topic, when created here; also those of the simulator's verdict
    /// journal, which is keyed by transaction like the requests.
    public var requestPartitions: Int
    /// Partitions of the reply topic, when created here.
    public var replyPartitions: Int
    /// Create missing topics at start-up and after broker outages; `false` when topics are
    /// managed elsewhere (then they are only checked).
    public var createMissing: Bool

    public init(
        request: String = "payment-requests", reply: String = "payment-responses", requestPartitions: Int = 3, replyPartitions: Int = 3,
        createMissing: Bool = true
    ) {
        self.request = request
        self.reply = reply
        self.requestPartitions = requestPartitions
        self.replyPartitions = replyPartitions
        self.createMissing = createMissing
    }

    /// The partitions a keyed topic (the requests, the verdict journal) is created with when the
    /// user chooses none: 3, so that as many processors share the requests, except on the local
    /// development broker (`local`), where it is 1.
    ///
    /// Why 1 there: the `local` profile keeps one produce request in flight per connection (its
    /// batching), and librdkafka sends one partition per produce request, so a record of one of
    /// three partitions waits for the other two partitions' requests first, and each stores a
    /// batch of its own, which that broker then lists on every fetch. Measured at 64 connections
    /// (docs/benchmarks.md): requests and journal on 1 partition instead of 3, captures/s +40%,
    /// broker CPU per capture −40%. The local broker is one node on the developer's machine: the
    /// processors that more partitions would let share the work have no more cores to share.
    /// Replies keep 3 on every profile: the simulator spreads them sticky, one partition at a
    /// time, and a fetch then lists only the partition being written.
    public static func defaultRequestPartitions(for profile: KafkaConfiguration.Profile) -> Int {
        profile == .local ? 1 : 3
    }

    /// The request and reply topics, plus `extra` ones, as topics to create.
    public func specifications(adding extra: [KafkaTopicSpecification] = []) -> [KafkaTopicSpecification] {
        [KafkaTopicSpecification(name: request, partitions: requestPartitions), KafkaTopicSpecification(name: reply, partitions: replyPartitions)]
            + extra
    }
}
