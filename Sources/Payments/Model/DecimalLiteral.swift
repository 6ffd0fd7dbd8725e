import Foundation

/// An exact decimal number kept as sign, significant digits and a power of ten.
///
/// Money must be judged on the digits the client actually sent. `Double` cannot hold 0.1, and
/// `Decimal` silently rounds past 38 significant digits and rejects exponents beyond about ±128,
/// so an amount like `1.0000000000000000000000000000000000000001` would otherwise pass as `1`.
/// Keeping the digits lets validation decide "too large" or "too precise" without any rounding.
struct DecimalLiteral: Sendable, Hashable {
    /// Which text forms a parse accepts.
    enum Grammar: Sendable {
        /// RFC 8259 numbers: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
        case json
        /// Plain decimal text as typed on a command line: `-?[0-9]+(\.[0-9]+)?` (leading zeros allowed).
        case plain
    }

    /// Whether a minus sign was written; zero is never negative so `-0` behaves like `0`.
    let isNegative: Bool
    /// ASCII digits, most significant first, with no leading or trailing zeros; empty for zero.
    let digits: [UInt8]
    /// The value is `digits × 10^exponent`.
    let exponent: Int

    // Clamping keeps absurd exponents like `1e99999999999999999999` from overflowing `Int`
    // while still comparing as "huge" or "tiny"; no real body could offset a clamp this large.
    private static let exponentClamp = 1 << 50

    /// Parses `text` exactly, or returns nil when it does not match `grammar`.
    init?(_ text: some StringProtocol, grammar: Grammar) {
        var scanner = Scanner(bytes: Array(text.utf8))
        guard let parsed = scanner.parse(grammar: grammar) else { return nil }
        self = parsed
    }

    private init(isNegative: Bool, rawDigits: [UInt8], exponent: Int) {
        // Normalising here gives every value a single representation, which makes equality,
        // comparison and `decimalPlaces` simple digit arithmetic.
        let leading = rawDigits.firstIndex { $0 != UInt8(ascii: "0") } ?? rawDigits.endIndex
        let trailing = rawDigits.lastIndex { $0 != UInt8(ascii: "0") }.map { $0 + 1 } ?? leading
        let significant = Array(rawDigits[leading..<max(leading, trailing)])
        self.digits = significant
        self.isNegative = isNegative && !significant.isEmpty
        self.exponent = significant.isEmpty ? 0 : exponent + (rawDigits.count - max(leading, trailing))
    }

    /// True for any spelling of zero.
    var isZero: Bool { digits.isEmpty }

    /// Digits after the decimal point once trailing zeros are dropped (`100.50` → 1).
    var decimalPlaces: Int { max(0, -exponent) }

    /// Compares absolute values, ignoring sign.
    func compareMagnitude(to other: DecimalLiteral) -> Int {
        if isZero || other.isZero {
            return (isZero ? 0 : 1) - (other.isZero ? 0 : 1)
        }
        // With no leading zeros, the position of the first digit decides unless it is shared.
        let ownMagnitude = digits.count + exponent
        let otherMagnitude = other.digits.count + other.exponent
        if ownMagnitude != otherMagnitude { return ownMagnitude < otherMagnitude ? -1 : 1 }
        for index in 0..<max(digits.count, other.digits.count) {
            let own = index < digits.count ? digits[index] : UInt8(ascii: "0")
            let theirs = index < other.digits.count ? other.digits[index] : UInt8(ascii: "0")
            if own != theirs { return own < theirs ? -1 : 1 }
        }
        return 0
    }

    /// Plain text without exponent, e.g. `-12.5`, `0.001`, `100`; only sensible for modest exponents.
    var plainText: String {
        guard !isZero else { return "0" }
        let zero = UInt8(ascii: "0")
        var text: [UInt8] = isNegative ? [UInt8(ascii: "-")] : []
        if exponent >= 0 {
            text += digits + [UInt8](repeating: zero, count: exponent)
        } else {
            let integerCount = digits.count + exponent
            if integerCount > 0 {
                text += digits[..<integerCount] + [UInt8(ascii: ".")] + digits[integerCount...]
            } else {
                text += [zero, UInt8(ascii: ".")] + [UInt8](repeating: zero, count: -integerCount) + digits
            }
        }
        return String(decoding: text, as: UTF8.self)
    }
}

extension DecimalLiteral {
    /// A single pass over the text; kept separate so the grammar reads top to bottom.
    private struct Scanner {
        let bytes: [UInt8]
        var index = 0

        mutating func parse(grammar: Grammar) -> DecimalLiteral? {
            let isNegative = take(UInt8(ascii: "-"))
            let integerStart = index
            skipDigits()
            let integerDigits = bytes[integerStart..<index]
            guard !integerDigits.isEmpty else { return nil }
            if grammar == .json, integerDigits.count > 1, integerDigits.first == UInt8(ascii: "0") {
                return nil
            }
            var fractionDigits: ArraySlice<UInt8> = []
            if take(UInt8(ascii: ".")) {
                let fractionStart = index
                skipDigits()
                fractionDigits = bytes[fractionStart..<index]
                guard !fractionDigits.isEmpty else { return nil }
            }
            var writtenExponent = 0
            if grammar == .json, take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
                guard let value = parseExponent() else { return nil }
                writtenExponent = value
            }
            guard index == bytes.count else { return nil }
            return DecimalLiteral(
                isNegative: isNegative,
                rawDigits: Array(integerDigits) + Array(fractionDigits),
                exponent: writtenExponent - fractionDigits.count
            )
        }

        private mutating func parseExponent() -> Int? {
            let isNegative = take(UInt8(ascii: "-"))
            if !isNegative { _ = take(UInt8(ascii: "+")) }
            let start = index
            skipDigits()
            guard index > start else { return nil }
            var magnitude = 0
            for digit in bytes[start..<index] {
                magnitude = min(DecimalLiteral.exponentClamp, magnitude * 10 + Int(digit - UInt8(ascii: "0")))
            }
            return isNegative ? -magnitude : magnitude
        }

        private mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        private mutating func skipDigits() {
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                index += 1
            }
        }
    }
}

extension DecimalLiteral {
    // Foundation's Decimal keeps a 128-bit integer significand (38 full decimal digits)
    // and a signed 8-bit exponent.
    private static let decimalDigitLimit = 38
    private static let decimalExponentRange = -128...127

    /// The same value as a `Decimal`, or nil when `Decimal` cannot hold it without rounding.
    var decimal: Decimal? {
        guard !isZero else { return Decimal.zero }
        var significandDigits = digits
        var decimalExponent = exponent
        // A large exponent can be traded for trailing zeros while the significand has room.
        while decimalExponent > Self.decimalExponentRange.upperBound,
            significandDigits.count < Self.decimalDigitLimit
        {
            significandDigits.append(UInt8(ascii: "0"))
            decimalExponent -= 1
        }
        guard significandDigits.count <= Self.decimalDigitLimit,
            Self.decimalExponentRange.contains(decimalExponent),
            // Safe only because the text is digits we built: Decimal(string:) is lenient elsewhere.
            let significand = Decimal(string: String(decoding: significandDigits, as: UTF8.self))
        else { return nil }
        return Decimal(sign: isNegative ? .minus : .plus, exponent: decimalExponent, significand: significand)
    }

    /// Reads a `Decimal` through its plain-text description, which is exact and has no exponent.
    init?(_ decimal: Decimal) {
        guard !decimal.isNaN else { return nil }
        self.init(decimal.description, grammar: .plain)
    }
}
