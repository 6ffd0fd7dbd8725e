/// A record to produce: the destination topic (and optionally partition), key, value and headers.
public struct KafkaRecord: Sendable, Hashable {
    public var topic: String
    /// `nil` lets the partitioner choose (by key hash when there is a key).
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]

    public init(topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = []) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    public init(topic: String, partition: Int32? = nil, key: String?, value: [UInt8], headers: [KafkaHeader] = []) {
        self.init(topic: topic, partition: partition, key: key.map { Array($0.utf8) }, value: value, headers: headers)
    }
}

/// Where the broker wrote a record: the acknowledgement a producer's `send` returns.
public struct KafkaDeliveryReport: Sendable, Hashable {
    public let topic: String
    public let partition: Int32
    /// The record's offset, or `nil` when the broker did not report one (idempotent retries).
    public let offset: Int64?
}
