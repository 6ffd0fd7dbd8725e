/// A strict RFC 8259 parser over UTF-8 bytes that keeps numbers as text (see `JSONValue`).
///
/// Deliberately small: no comments, trailing commas, NaN or Infinity, and a nesting limit so a
/// hostile body of ten thousand `[` cannot exhaust the stack through recursion.
public struct JSONParser {
    /// Why the text is not JSON, with the byte offset where parsing stopped.
    public struct SyntaxError: Error, Sendable {
        public let reason: String
        public let offset: Int
        /// Set when the document is well-formed but repeats an object key.
        public var duplicateKey: String? = nil
    }

    /// Deepest nesting accepted; a capture request needs two levels.
    public static let maximumDepth = 100

    private let bytes: [UInt8]
    private var index: Int

    /// Parses a complete document. The bytes must already be known to be valid UTF-8.
    public static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        // JSONDecoder tolerates a UTF-8 byte order mark; tolerate it too so both agree.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { parser.index = 3 }
        parser.skipWhitespace()
        guard parser.index < bytes.count else { throw parser.error("the body is empty") }
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return value
    }

    private init(bytes: [UInt8]) {
        self.bytes = bytes
        self.index = 0
    }

    private mutating func parseValue(depth: Int) throws(SyntaxError) -> JSONValue {
        guard index < bytes.count else { throw error("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return .object(try parseObject(depth: depth + 1))
        case UInt8(ascii: "["): return .array(try parseArray(depth: depth + 1))
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        default: throw error("unexpected character")
        }
    }

    private mutating func parseObject(depth: Int) throws(SyntaxError) -> JSONObject {
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        index += 1
        var object = JSONObject()
        skipWhitespace()
        if take(UInt8(ascii: "}")) { return object }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let key = try parseString()
            skipWhitespace()
            guard take(UInt8(ascii: ":")) else { throw error("expected ':' after an object key") }
            skipWhitespace()
            let keyOffset = index
            guard object.add(key: key, value: try parseValue(depth: depth)) else {
                throw SyntaxError(reason: "the key \"\(key)\" appears twice in one object", offset: keyOffset, duplicateKey: key)
            }
            skipWhitespace()
            if take(UInt8(ascii: "}")) { return object }
            guard take(UInt8(ascii: ",")) else { throw error("expected ',' or '}' in an object") }
        }
    }

    private mutating func parseArray(depth: Int) throws(SyntaxError) -> [JSONValue] {
        guard depth <= Self.maximumDepth else { throw error("nesting deeper than \(Self.maximumDepth) levels") }
        index += 1
        var elements: [JSONValue] = []
        skipWhitespace()
        if take(UInt8(ascii: "]")) { return elements }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            if take(UInt8(ascii: "]")) { return elements }
            guard take(UInt8(ascii: ",")) else { throw error("expected ',' or ']' in an array") }
        }
    }

    private mutating func parseString() throws(SyntaxError) -> String {
        index += 1
        // Built only once an escape appears: most strings are one run of bytes, decoded as they
        // stand (no array of their own; a string of up to 15 bytes takes no allocation at all).
        var text: [UInt8]?
        var runStart = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                let run = bytes[runStart..<index]
                index += 1
                guard var text else { return String(decoding: run, as: UTF8.self) }
                text += run
                return String(decoding: text, as: UTF8.self)
            } else if byte == UInt8(ascii: "\\") {
                var escaped = text ?? []
                text = nil  // so that the appends below do not copy it
                escaped += bytes[runStart..<index]
                index += 1
                try parseEscape(into: &escaped)
                text = escaped
                runStart = index
            } else if byte < 0x20 {
                throw error("unescaped control character in a string")
            } else {
                index += 1
            }
        }
        throw error("unterminated string")
    }

    private mutating func parseEscape(into text: inout [UInt8]) throws(SyntaxError) {
        guard index < bytes.count else { throw error("unterminated escape sequence") }
        let escaped = bytes[index]
        index += 1
        switch escaped {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escaped)
        case UInt8(ascii: "b"): text.append(0x08)
        case UInt8(ascii: "f"): text.append(0x0C)
        case UInt8(ascii: "n"): text.append(0x0A)
        case UInt8(ascii: "r"): text.append(0x0D)
        case UInt8(ascii: "t"): text.append(0x09)
        case UInt8(ascii: "u"):
            let scalar = try parseUnicodeEscape()
            UTF8.encode(scalar) { text.append($0) }
        default: throw error("invalid escape sequence")
        }
    }

    /// Reads the hex after `\u`, joining a UTF-16 surrogate pair; a lone surrogate is refused
    /// (as JSONDecoder does) because it cannot become valid UTF-8.
    private mutating func parseUnicodeEscape() throws(SyntaxError) -> Unicode.Scalar {
        let unit = try parseHexQuad()
        switch unit {
        case 0xD800...0xDBFF:
            guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")) else { throw error("unpaired UTF-16 surrogate") }
            let low = try parseHexQuad()
            guard (0xDC00...0xDFFF).contains(low) else { throw error("unpaired UTF-16 surrogate") }
            let value = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            guard let scalar = Unicode.Scalar(value) else { throw error("invalid UTF-16 surrogate pair") }
            return scalar
        case 0xDC00...0xDFFF:
            throw error("unpaired UTF-16 surrogate")
        default:
            guard let scalar = Unicode.Scalar(unit) else { throw error("invalid unicode escape") }
            return scalar
        }
    }

    private mutating func parseHexQuad() throws(SyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard index < bytes.count, let digit = Self.hexValue(bytes[index]) else {
                throw error("invalid \\u escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// Takes the longest run of number characters and checks it against RFC 8259's grammar,
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, keeping the text exactly as written.
    private mutating func parseNumber() throws(SyntaxError) -> String {
        let start = index
        while index < bytes.count, Self.isNumberByte(bytes[index]) { index += 1 }
        guard Self.isJSONNumber(bytes[start..<index]) else {
            index = start
            throw error("invalid number")
        }
        return String(decoding: bytes[start..<index], as: UTF8.self)
    }

    static func isJSONNumber(_ text: ArraySlice<UInt8>) -> Bool {
        var position = text.startIndex
        func digits() -> Int {
            let first = position
            while position < text.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(text[position]) { position += 1 }
            return position - first
        }
        func take(_ byte: UInt8) -> Bool {
            guard position < text.endIndex, text[position] == byte else { return false }
            position += 1
            return true
        }
        _ = take(UInt8(ascii: "-"))
        guard position < text.endIndex else { return false }
        if take(UInt8(ascii: "0")) {
            // no leading zeros
        } else if digits() == 0 {
            return false
        }
        if take(UInt8(ascii: ".")), digits() == 0 { return false }
        if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
            if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
            if digits() == 0 { return false }
        }
        return position == text.endIndex
    }

    private static func isNumberByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"),
            UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
            true
        default:
            false
        }
    }

    private mutating func expectLiteral(_ literal: String) throws(SyntaxError) {
        guard bytes[index...].starts(with: literal.utf8) else { throw error("unexpected character") }
        index += literal.utf8.count
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    private mutating func take(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private func error(_ reason: String) -> SyntaxError {
        SyntaxError(reason: reason, offset: index)
    }
}
