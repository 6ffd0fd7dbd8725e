import Foundation

/// The identifier that pairs a Kafka reply with the HTTP request waiting for it.
///
/// Ids arrive from the processor and from URLs, so they are restricted to something safe to log,
/// put in a header or a path segment, and bounded in size.
public struct CorrelationID: Sendable, Hashable, Codable, CustomStringConvertible, RawRepresentable {
    /// Longest accepted id in bytes; a UUID needs 36, the slack allows other processors' formats.
    public static let maximumLength = 128

    /// The id text.
    public let rawValue: String

    /// Same rules as `init?(validating:)`, so no unchecked id can be built through the protocol.
    public init?(rawValue: String) {
        self.init(validating: rawValue)
    }

    /// Accepts non-empty text of at most 128 bytes made only of printable ASCII without spaces.
    public init?(validating text: String) {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= Self.maximumLength,
            bytes.allSatisfy({ (0x21...0x7E).contains($0) })
        else { return nil }
        rawValue = text
    }

    /// A fresh lowercase random (version 4) UUID, the format the original service produced.
    public static func random() -> CorrelationID {
        // A UUID string is always within the rules, so this cannot fail.
        CorrelationID(unchecked: UUID().uuidString.lowercased())
    }

    private init(unchecked text: String) {
        rawValue = text
    }

    /// Decodes from a JSON string, refusing ids that break the rules.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let id = CorrelationID(validating: try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "Correlation id must be 1-128 printable ASCII characters without spaces.")
        }
        self = id
    }

    /// Encodes as a plain JSON string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// The id text.
    public var description: String { rawValue }
}
