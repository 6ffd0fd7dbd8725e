/// Where a reply should go: a topic, and optionally one partition of it.
public struct ReplyDestination: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32?

    public init(topic: String, partition: Int32? = nil) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { partition.map { "\(topic)[\($0)]" } ?? topic }
}

/// What a request record says beyond its body: where it goes, where its reply should go,
/// until when it is worth processing, and which capture it is.
public struct RequestRouting: Sendable, Hashable {
    /// The partition of the request topic; `nil` lets the producer hash the key.
    public var partition: Int32?
    /// When the requester stops waiting, in milliseconds since the Unix epoch.
    public var deadlineMilliseconds: Int64?
    /// `nil` for the default reply topic, in which case no reply headers are sent.
    public var replyTo: ReplyDestination?
    public var idempotencyKey: String?
    /// The producing process's id (``PaymentHeaders/senderID``), if it reads requests back.
    public var senderID: String?

    public init(
        partition: Int32? = nil, deadlineMilliseconds: Int64? = nil, replyTo: ReplyDestination? = nil, idempotencyKey: String? = nil,
        senderID: String? = nil
    ) {
        self.partition = partition
        self.deadlineMilliseconds = deadlineMilliseconds
        self.replyTo = replyTo
        self.idempotencyKey = idempotencyKey
        self.senderID = senderID
    }
}

/// A partition choice that every replica makes the same way for the same text (FNV-1a), so that
/// all requests for one transaction reach the same partition, and so the same processor.
public enum StablePartitioner {
    public static func partition(for text: String, count: Int) -> Int32 {
        precondition(count > 0, "a topic has at least one partition")
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        return Int32(hash % UInt64(count))
    }
}
