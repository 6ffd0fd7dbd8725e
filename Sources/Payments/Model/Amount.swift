import Foundation

/// A sum of money without its currency, held as an exact decimal.
///
/// Binary floating point cannot represent most cents (`0.1 + 0.2 != 0.3`), so money is kept in
/// Foundation's `Decimal`, and JSON is read and written through `Decimal` as well, which parses
/// and prints the number's digits instead of going through `Double`. Negative and zero amounts
/// are representable on purpose: rejecting them is validation's job, with a clear error code.
public struct Amount: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// The exact value.
    public let decimalValue: Decimal
    /// Normalised plain decimal text without exponent or trailing fractional zeros, e.g. `100.5`.
    ///
    /// Worked out once, when the amount is made: every capture needs it several times (its
    /// fingerprint, the request record), and going through `Decimal`'s own text each time cost
    /// about 3% of serve's CPU per capture.
    public let description: String
    /// Digits after the decimal point once trailing zeros are dropped: 100.50 → 1, 100.505 → 3, 100 → 0.
    public let decimalPlaces: Int

    /// Wraps `value`, or returns nil for NaN, which is not an amount of money.
    public init?(_ value: Decimal) {
        guard !value.isNaN else { return nil }
        self.init(value, literal: DecimalLiteral(value))
    }

    /// Parses strict decimal text such as `100.50` or `-3` (the `--amount` command-line form).
    ///
    /// Accepts `-?[0-9]+(\.[0-9]+)?` only: no exponent, spaces, `+`, grouping or locale
    /// separators, because `Decimal(string:)` quietly accepts trailing junk (`"12abc"` is 12).
    /// Returns nil for text that `Decimal` could only hold after rounding (over 38 digits).
    public init?(exactly text: String) {
        guard let literal = DecimalLiteral(text, grammar: .plain), let decimal = literal.decimal else { return nil }
        self.init(decimal, literal: literal)
    }

    /// An amount whose exact digits are already known (`literal` is `decimal`'s).
    init(_ decimal: Decimal, literal: DecimalLiteral?) {
        decimalValue = decimal
        description = literal?.plainText ?? decimal.description
        decimalPlaces = literal?.decimalPlaces ?? 0
    }

    /// Decodes from a number (JSON numbers keep their exact digits up to 38 of them).
    ///
    /// Untrusted request bodies should go through `CaptureRequestDecoder`, which also catches
    /// numbers with more digits than `Decimal` can hold instead of letting them round.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let value = try container.decode(Decimal.self)
        guard !value.isNaN else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "Amount must be a number.")
        }
        self.init(value, literal: DecimalLiteral(value))
    }

    /// Encodes as a number with the same digits, e.g. `100.5` or `0.1`, never a rounded binary value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalValue)
    }

    /// Equal by value, so `100.5` and `100.50` are the same amount.
    public static func == (lhs: Amount, rhs: Amount) -> Bool {
        lhs.decimalValue == rhs.decimalValue
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(decimalValue)
    }

    /// Orders by value, so `100.5` and `100.50` are equal.
    public static func < (lhs: Amount, rhs: Amount) -> Bool {
        lhs.decimalValue < rhs.decimalValue
    }

    /// Whether the amount is greater than zero.
    public var isPositive: Bool {
        decimalValue > 0
    }

    /// The exact digits, shared with request validation so both judge amounts the same way.
    var literal: DecimalLiteral? {
        DecimalLiteral(decimalValue)
    }
}
