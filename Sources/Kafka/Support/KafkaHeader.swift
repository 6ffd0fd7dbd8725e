/// One Kafka record header. Kafka allows repeated names and binary values.
public struct KafkaHeader: Sendable, Hashable {
    public var name: String

    /// The value's bytes as given: a header made from text keeps the text, so producing it
    /// copies the string's own UTF-8 into librdkafka, not first into an array (six arrays per
    /// capture request before); the headers of a consumed message share one buffer.
    private enum Storage: Sendable {
        case bytes(ArraySlice<UInt8>)
        case text(String)
    }

    private var storage: Storage

    public init(name: String, value: [UInt8]) {
        self.name = name
        storage = .bytes(value[...])
    }

    /// A header whose value is a part of a buffer shared with other headers.
    init(name: String, sharing value: ArraySlice<UInt8>) {
        self.name = name
        storage = .bytes(value)
    }

    public init(name: String, value: String) {
        self.name = name
        storage = .text(value)
    }

    /// The value's bytes.
    public var value: [UInt8] {
        get {
            switch storage {
            case .bytes(let bytes): Array(bytes)
            case .text(let text): Array(text.utf8)
            }
        }
        set { storage = .bytes(newValue[...]) }
    }

    /// The value as UTF-8 text, or `nil` when it is not valid UTF-8.
    public var stringValue: String? {
        switch storage {
        case .bytes(let bytes): String(validating: bytes, as: UTF8.self)
        case .text(let text): text
        }
    }

    /// Calls `body` with the value's bytes, copying nothing.
    public func withValueBytes<Result>(_ body: (UnsafeRawBufferPointer) throws -> Result) rethrows -> Result {
        switch storage {
        case .bytes(let bytes):
            return try bytes.withUnsafeBytes(body)
        case .text(var text):
            return try text.withUTF8 { try body(UnsafeRawBufferPointer($0)) }
        }
    }

    /// Equal when the names and the value bytes are, however each was given.
    public static func == (left: KafkaHeader, right: KafkaHeader) -> Bool {
        left.name == right.name && left.withValueBytes { a in right.withValueBytes { b in a.elementsEqual(b) } }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(name)
        withValueBytes { hasher.combine(bytes: $0) }
    }
}

extension Array where Element == KafkaHeader {
    /// The value of the last header with this name (later headers override earlier ones, as in
    /// Kafka's own clients), as text.
    public func lastValue(named name: String) -> String? {
        last(where: { $0.name == name })?.stringValue
    }
}
