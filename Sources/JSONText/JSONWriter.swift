/// Writes JSON text straight into bytes, for the few small documents DemoSync writes on every
/// request (capture requests and answers, log lines), where going through `JSONEncoder` cost more
/// than the rest of the work. Callers write keys in sorted order, matching the encoder's
/// `.sortedKeys` output elsewhere.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8]
    /// Per open object: whether a member was written (so the next needs a comma).
    private var hasMembers: [Bool] = []

    public init(capacity: Int = 256) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func beginObject() {
        bytes.append(UInt8(ascii: "{"))
        hasMembers.append(false)
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        hasMembers.removeLast()
    }

    /// Starts a member: its key, then the caller writes the value.
    public mutating func key(_ name: String) {
        if hasMembers[hasMembers.count - 1] { bytes.append(UInt8(ascii: ",")) }
        hasMembers[hasMembers.count - 1] = true
        writeString(name)
        bytes.append(UInt8(ascii: ":"))
    }

    /// A string member, left out when `value` is `nil`.
    public mutating func member(_ name: String, _ value: String?) {
        guard let value else { return }
        key(name)
        writeString(value)
    }

    /// A number member from its exact decimal text (which must be a valid JSON number).
    public mutating func member(_ name: String, number text: String) {
        key(name)
        bytes.append(contentsOf: text.utf8)
    }

    /// A string value, quoted and escaped.
    public mutating func writeString(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        let utf8 = text.utf8
        if utf8.contains(where: Self.needsEscaping) {
            for byte in utf8 { appendEscaping(byte) }
        } else {
            // Most strings (ids, codes, amounts' currencies) need no escape: one copy, not an
            // append per byte.
            bytes.append(contentsOf: utf8)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static func needsEscaping(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    private mutating func appendEscaping(_ byte: UInt8) {
        switch byte {
        case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
        case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
        case UInt8(ascii: "\n"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
        case UInt8(ascii: "\r"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
        case UInt8(ascii: "\t"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
        case 0..<0x20:
            bytes.append(contentsOf: Array("\\u00".utf8))
            bytes.append(Self.hexDigits[Int(byte >> 4)])
            bytes.append(Self.hexDigits[Int(byte & 0x0F)])
        default:
            bytes.append(byte)  // UTF-8 passes through: JSON text is UTF-8
        }
    }

    /// `text` as a JSON string literal.
    public static func quoted(_ text: String) -> String {
        var writer = JSONWriter(capacity: text.utf8.count + 2)
        writer.writeString(text)
        return String(decoding: writer.bytes, as: UTF8.self)
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
