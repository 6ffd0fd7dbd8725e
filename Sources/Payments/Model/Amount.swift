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

    /// Wraps `value`, or returns nil for NaN, which is not an amount of money.
    public init?(_ value: Decimal) {
        guard !value.isNaN else { return nil }
        decimalValue = value
    }

    /// Parses strict decimal text such as `100.50` or `-3` (the `--amount` command-line form).
    ///
    /// Accepts `-?[0-9]+(\.[0-9]+)?` only: no exponent, spaces, `+`, grouping or locale
    /// separators, because `Decimal(string:)` quietly accepts trailing junk (`"12abc"` is 12).
    /// Returns nil for text that `Decimal` could only hold after rounding (over 38 digits).
    public init?(exactly text: String) {
        guard let decimal = DecimalLiteral(text, grammar: .plain)?.decimal else { return nil }
        decimalValue = decimal
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
        decimalValue = value
    }

    /// Encodes as a number with the same digits, e.g. `100.5` or `0.1`, never a rounded binary value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(decimalValue)
    }

    /// Orders by value, so `100.5` and `100.50` are equal.
    public static func < (lhs: Amount, rhs: Amount) -> Bool {
        lhs.decimalValue < rhs.decimalValue
    }

    /// Normalised plain decimal text without exponent or trailing fractional zeros, e.g. `100.5`.
    public var description: String {
        literal?.plainText ?? decimalValue.description
    }

    /// Digits after the decimal point once trailing zeros are dropped: 100.50 → 1, 100.505 → 3, 100 → 0.
    public var decimalPlaces: Int {
        literal?.decimalPlaces ?? 0
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
