import JSONText

/// A record value read as a JSON object, leniently: any other members, of any type, are
/// ignored, as a processor written against the original may add its own.
struct WireObject {
    private let object: JSONObject

    init(_ bytes: [UInt8]) throws(WireFormatError) {
        let document: JSONValue
        do {
            document = try JSONParser.parse(bytes)
        } catch {
            throw WireFormatError("\(error.reason) at byte \(error.offset)")
        }
        guard case .object(let object) = document else { throw WireFormatError("a JSON \(document.typeName), not an object") }
        self.object = object
    }

    /// The member `name` when it is a string; `nil` when absent or of another type.
    func string(_ name: String) -> String? {
        if case .string(let text) = object[name] { return text }
        return nil
    }

    /// The member `name` when it is a string, `nil` when absent or null; an error for any other
    /// type.
    func optionalString(_ name: String) throws(WireFormatError) -> String? {
        switch object[name] {
        case .string(let text): return text
        case .null, nil: return nil
        case .some(let other): throw WireFormatError("\(name) is a \(other.typeName), not a string")
        }
    }
}
