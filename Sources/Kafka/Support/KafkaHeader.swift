/// One Kafka record header. Kafka allows repeated names and binary values.
public struct KafkaHeader: Sendable, Hashable {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    public init(name: String, value: String) {
        self.init(name: name, value: Array(value.utf8))
    }

    /// The value as UTF-8 text, or `nil` when it is not valid UTF-8.
    public var stringValue: String? { String(validating: value, as: UTF8.self) }
}

extension Array where Element == KafkaHeader {
    /// The value of the last header with this name (later headers override earlier ones, as in
    /// Kafka's own clients), as text.
    public func lastValue(named name: String) -> String? {
        last(where: { $0.name == name })?.stringValue
    }
}
