/// Why a capture request was refused, in a form an HTTP layer can return as-is.
public struct CaptureValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Machine-readable reason, one of the constants in `Code`; clients branch on this.
    public let code: String
    /// English explanation naming the field and the rule; for people, not for parsing.
    public let message: String
    /// The offending field (`amount`, `metadata.order_id`), or nil when the body as a whole is bad.
    public let field: String?

    /// Creates an error; normally only the validator does this.
    public init(code: String, message: String, field: String?) {
        self.code = code
        self.message = message
        self.field = field
    }

    /// `code (field): message`, for logs.
    public var description: String {
        "\(code)\(field.map { " (\($0))" } ?? ""): \(message)"
    }

    /// The stable error codes; spelled out once so the API layer and tests cannot drift from them.
    public enum Code {
        /// The body is not valid UTF-8, not JSON, or not a JSON object.
        public static let malformedJSON = "malformed_json"
        /// An object repeats a key (`{"amount": 1, "amount": 2}`).
        public static let duplicateField = "duplicate_field"
        /// A required field is absent or null.
        public static let missingField = "missing_field"
        /// A field has the wrong JSON type.
        public static let invalidFieldType = "invalid_field_type"
        /// A text field is empty or only whitespace.
        public static let emptyField = "empty_field"
        /// The transaction id is too long or contains control characters.
        public static let invalidTransactionID = "invalid_transaction_id"
        /// The amount is zero or negative.
        public static let invalidAmount = "invalid_amount"
        /// The amount has more decimal places than the currency allows.
        public static let amountTooPrecise = "amount_too_precise"
        /// The amount exceeds the maximum or cannot be represented exactly.
        public static let amountTooLarge = "amount_too_large"
        /// The currency is not three upper-case letters.
        public static let invalidCurrency = "invalid_currency"
        /// The metadata breaks a size rule.
        public static let invalidMetadata = "invalid_metadata"
    }
}
