/// The business rules for a capture request, shared by JSON decoding and typed requests.
///
/// Both `CaptureRequestDecoder` (HTTP bodies) and `validate(_:)` (requests built in code, e.g. from
/// command-line flags) run these same checks, so a request the CLI accepts is one the API accepts.
public enum CaptureRequestValidator {
    /// Longest transaction id, in Unicode scalars (bounded in scalars, not grapheme clusters,
    /// so a single "character" with thousands of combining marks cannot slip through).
    public static let maximumTransactionIDLength = 128
    /// Largest amount accepted, 10^12 − 0.01, the ceiling inherited from the processor contract.
    public static let maximumAmount = Amount(maximumAmountLiteral.decimal!)!
    /// Most metadata entries accepted.
    public static let maximumMetadataEntries = 50
    /// Longest metadata key, in Unicode scalars.
    public static let maximumMetadataKeyLength = 64
    /// Longest metadata value, in Unicode scalars.
    public static let maximumMetadataValueLength = 512

    static let maximumAmountLiteral = DecimalLiteral("999999999999.99", grammar: .plain)!

    /// Checks a typed request, reporting the first problem in field order
    /// (transaction_id, amount, currency, metadata).
    ///
    /// The types already guarantee presence and JSON types; metadata keys are checked in sorted
    /// order because a dictionary has none of its own and the same request must always give the
    /// same error.
    public static func validate(_ request: CaptureRequest) throws(CaptureValidationError) {
        try checkTransactionID(request.transactionID)
        guard let amount = request.amount.literal else {
            throw amountTooLarge("cannot be represented exactly")
        }
        try checkAmountMagnitude(amount)
        try checkAmountPrecision(amount, currency: request.currency)
        if let metadata = request.metadata {
            try checkMetadataCount(metadata.count)
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
                try checkMetadataKey(key)
                try checkMetadataValue(value, key: key)
            }
        }
    }

    static func checkTransactionID(_ id: String) throws(CaptureValidationError) {
        let field = FieldName.transactionID
        if isBlank(id) {
            throw CaptureValidationError(
                code: CaptureValidationError.Code.emptyField,
                message: "Field '\(field)' must not be empty or only whitespace.", field: field)
        }
        if id.unicodeScalars.count > maximumTransactionIDLength {
            throw CaptureValidationError(
                code: CaptureValidationError.Code.invalidTransactionID,
                message: "Field '\(field)' must be at most \(maximumTransactionIDLength) characters long.",
                field: field)
        }
        // Control characters break logs, headers and terminals downstream of us.
        if id.unicodeScalars.contains(where: isControl) {
            throw CaptureValidationError(
                code: CaptureValidationError.Code.invalidTransactionID,
                message: "Field '\(field)' must not contain control characters.", field: field)
        }
    }

    /// Sign and size, which do not depend on the currency and so can be judged first.
    static func checkAmountMagnitude(_ amount: DecimalLiteral) throws(CaptureValidationError) {
        if amount.isZero || amount.isNegative {
            throw CaptureValidationError(
                code: CaptureValidationError.Code.invalidAmount,
                message: "Field '\(FieldName.amount)' must be greater than zero.", field: FieldName.amount)
        }
        if amount.compareMagnitude(to: maximumAmountLiteral) > 0 {
            throw amountTooLarge("must not exceed \(maximumAmountLiteral.plainText)")
        }
    }

    /// Decimal places against the currency's minor units; needs a valid currency, so it runs
    /// after the currency check even though it reports on the amount.
    static func checkAmountPrecision(_ amount: DecimalLiteral, currency: CurrencyCode) throws(CaptureValidationError) {
        guard amount.decimalPlaces > currency.minorUnits else { return }
        throw CaptureValidationError(
            code: CaptureValidationError.Code.amountTooPrecise,
            message: "Field '\(FieldName.amount)' has \(amount.decimalPlaces) decimal places "
                + "but \(currency.code) allows at most \(currency.minorUnits).",
            field: FieldName.amount)
    }

    static func checkCurrency(_ text: String) throws(CaptureValidationError) -> CurrencyCode {
        let field = FieldName.currency
        if isBlank(text) {
            throw CaptureValidationError(
                code: CaptureValidationError.Code.emptyField,
                message: "Field '\(field)' must not be empty or only whitespace.", field: field)
        }
        guard let currency = CurrencyCode(text) else {
            throw CaptureValidationError(
                code: CaptureValidationError.Code.invalidCurrency,
                message: "Field '\(field)' must be a three-letter upper-case ISO 4217 code such as BRL.",
                field: field)
        }
        return currency
    }

    static func checkMetadataCount(_ count: Int) throws(CaptureValidationError) {
        guard count > maximumMetadataEntries else { return }
        throw invalidMetadata(
            "Field '\(FieldName.metadata)' must have at most \(maximumMetadataEntries) entries.",
            field: FieldName.metadata)
    }

    /// Runs before a value's type is looked at, so an error's `field` never embeds an overlong key.
    static func checkMetadataKey(_ key: String) throws(CaptureValidationError) {
        if key.isEmpty {
            throw invalidMetadata("Field '\(FieldName.metadata)' must not have an empty key.", field: FieldName.metadata)
        }
        if key.unicodeScalars.count > maximumMetadataKeyLength {
            throw invalidMetadata(
                "Field '\(FieldName.metadata)' keys must be at most \(maximumMetadataKeyLength) characters long.",
                field: FieldName.metadata)
        }
    }

    static func checkMetadataValue(_ value: String, key: String) throws(CaptureValidationError) {
        guard value.unicodeScalars.count > maximumMetadataValueLength else { return }
        let field = FieldName.metadataEntry(key)
        throw invalidMetadata(
            "Field '\(field)' must be at most \(maximumMetadataValueLength) characters long.", field: field)
    }

    static func amountTooLarge(_ rule: String) -> CaptureValidationError {
        CaptureValidationError(
            code: CaptureValidationError.Code.amountTooLarge,
            message: "Field '\(FieldName.amount)' \(rule).", field: FieldName.amount)
    }

    private static func invalidMetadata(_ message: String, field: String) -> CaptureValidationError {
        CaptureValidationError(code: CaptureValidationError.Code.invalidMetadata, message: message, field: field)
    }

    /// Whether a text is empty or all white space (Unicode's `White_Space`).
    static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy(isWhiteSpace)
    }

    /// Unicode's `White_Space`, with ASCII decided without a property lookup: a capture's
    /// transaction id is checked once per request, and the lookup of its first scalar's
    /// properties was most of that check in a profile of `serve`.
    static func isWhiteSpace(_ scalar: Unicode.Scalar) -> Bool {
        guard scalar.isASCII else { return scalar.properties.isWhitespace }
        return scalar == " " || (0x09...0x0D).contains(scalar.value)
    }

    /// Whether a scalar is a control character (general category Cc): U+0000–U+001F and
    /// U+007F–U+009F. Unicode's stability policy fixes the Cc set, so the two ranges are the
    /// whole of it. They replace a general-category lookup per scalar, which was 1% of `serve`'s
    /// CPU per capture (a quarter of decoding the body).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}

/// Wire names of the request fields, as they appear in `CaptureValidationError.field`.
enum FieldName {
    static let transactionID = "transaction_id"
    static let amount = "amount"
    static let currency = "currency"
    static let metadata = "metadata"

    static func metadataEntry(_ key: String) -> String { "\(metadata).\(key)" }
}
