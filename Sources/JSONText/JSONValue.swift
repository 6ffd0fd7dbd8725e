/// A parsed JSON document that keeps numbers as their source text.
///
/// `JSONDecoder` would hand amounts over as an already rounded `Decimal` and reports an
/// out-of-range number anywhere as a failure of the whole document; keeping the text lets
/// validation judge the exact amount and name the field at fault.
public enum JSONValue: Sendable {
    case object(JSONObject)
    case array([JSONValue])
    case string(String)
    /// The number exactly as written, already checked against the RFC 8259 grammar.
    case number(String)
    case bool(Bool)
    case null

    /// The JSON type name used in error messages.
    public var typeName: String {
        switch self {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .number: "number"
        case .bool: "boolean"
        case .null: "null"
        }
    }
}

/// A JSON object's members in document order, with duplicate keys already resolved.
public struct JSONObject: Sendable {
    public init() {}
    /// Members in the order they were written; keys are unique.
    public private(set) var members: [(key: String, value: JSONValue)] = []
    /// The keys, once there are more than ``keysCheckedInPlace``: below that a scan of the
    /// members finds a repeated key without a set of its own (a capture's objects have 4 to 8
    /// members, and the set and its growth were a third of a parse's heap allocations).
    private var seenKeys: Set<String>?
    private static let keysCheckedInPlace = 16

    /// Adds a member. Returns `false`, adding nothing, when the key was already seen: decoders
    /// disagree on which of two values counts (JSONDecoder keeps the first, Go the last), and an
    /// amount must never be ambiguous, so the parser refuses the document.
    public mutating func add(key: String, value: JSONValue) -> Bool {
        if seenKeys != nil {
            guard seenKeys!.insert(key).inserted else { return false }
        } else {
            if members.contains(where: { $0.key == key }) { return false }
            if members.count == Self.keysCheckedInPlace {
                var keys = Set(members.lazy.map(\.key))
                keys.insert(key)
                seenKeys = keys
            }
        }
        if members.isEmpty { members.reserveCapacity(8) }
        members.append((key, value))
        return true
    }

    /// The value for `key`, if present.
    public subscript(key: String) -> JSONValue? {
        members.first { $0.key == key }?.value
    }
}
