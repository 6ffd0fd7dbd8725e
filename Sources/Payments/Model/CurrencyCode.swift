/// An ISO 4217 alphabetic currency code such as `BRL`.
///
/// Only the shape is checked (three ASCII upper-case letters), not membership in the ISO list,
/// so a newly issued currency is never refused before the processor has a say.
public struct CurrencyCode: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The three upper-case letters.
    public let code: String

    /// Accepts exactly three ASCII letters `A`–`Z`; lower case is refused rather than fixed
    /// so clients learn the canonical form instead of relying on us to guess.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 3, bytes.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }) else {
            return nil
        }
        code = text
    }

    /// Decodes from a JSON string, refusing anything that is not a valid code.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let currency = CurrencyCode(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "Currency must be three upper-case letters (ISO 4217).")
        }
        self = currency
    }

    /// Encodes as the plain code string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(code)
    }

    /// The code itself, e.g. `BRL`.
    public var description: String { code }

    /// How many digits after the decimal point this currency uses (ISO 4217 minor units).
    ///
    /// An amount with more decimal places than this cannot be settled (there is no such thing
    /// as half a yen), so validation uses it to reject `1.5 JPY` or `100.505 BRL`.
    public var minorUnits: Int {
        if Self.noMinorUnits.contains(code) { return 0 }
        if Self.threeMinorUnits.contains(code) { return 3 }
        if Self.fourMinorUnits.contains(code) { return 4 }
        return 2
    }

    private static let noMinorUnits: Set<String> = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG",
        "RWF", "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF",
    ]
    private static let threeMinorUnits: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
    private static let fourMinorUnits: Set<String> = ["CLF", "UYW"]
}
