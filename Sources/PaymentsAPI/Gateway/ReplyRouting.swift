import Kafka
import Payments
import PaymentsWire

/// How a `serve` replica receives the replies to its own requests.
public enum ReplyRouting: Sendable, Hashable {
    /// Read every partition of the shared reply topic and ignore other replicas' replies. Works
    /// with any processor, including ones written against the original, which reply on the
    /// default topic and know nothing of headers. Every replica reads every reply.
    case allPartitions
    /// Own one partition of the shared reply topic: requests say `reply-topic` and
    /// `reply-partition`, and the processor must honour them. Each replica needs a distinct
    /// partition (for example its ordinal in a stateful set).
    case ownedPartition(Int32)
    /// Own a reply topic: requests say `reply-topic`, and the processor must honour it. The topic
    /// is created at start-up when missing.
    case ownedTopic(String)

    /// What the reply consumer reads. Reading every reply, a replica reads them from the
    /// beginning (and every request record, with a consumer of its own): so it knows every
    /// capture any replica sent, and its verdict.
    func subscription(sharedReplyTopic: String) -> KafkaConsumer.Subscription {
        switch self {
        case .allPartitions:
            .allPartitions(of: [sharedReplyTopic], from: .beginning)
        case .ownedPartition(let partition):
            .partitions([KafkaTopicPartition(topic: sharedReplyTopic, partition: partition)], from: .end)
        case .ownedTopic(let topic):
            .allPartitions(of: [topic], from: .end)
        }
    }

    /// Whether the replica reads every request and reply (and so answers for every replica's
    /// captures).
    var readsHistory: Bool { self == .allPartitions }

    /// The destination requests name in their headers; `nil` for the default topic (no headers,
    /// as the original).
    func replyDestination(sharedReplyTopic: String) -> ReplyDestination? {
        switch self {
        case .allPartitions: nil
        case .ownedPartition(let partition): ReplyDestination(topic: sharedReplyTopic, partition: partition)
        case .ownedTopic(let topic): ReplyDestination(topic: topic)
        }
    }
}
