import Payments
import Testing

/// One refused body with the exact code and field it must produce.
struct RejectionCase: Sendable, CustomTestStringConvertible {
    let name: String
    let body: String
    let code: String
    let field: String?

    var testDescription: String { name }
}

private typealias Code = CaptureValidationError.Code

@Suite("CaptureRequestDecoder rejects invalid bodies")
struct CaptureRequestDecoderErrorTests {
    static let malformed: [RejectionCase] = [
        RejectionCase(name: "empty body", body: "", code: Code.malformedJSON, field: nil),
        RejectionCase(name: "whitespace only", body: "  \n", code: Code.malformedJSON, field: nil),
        RejectionCase(name: "plain text", body: "capture please", code: Code.malformedJSON, field: nil),
        RejectionCase(name: "array at top level", body: "[" + requestBody() + "]", code: Code.malformedJSON, field: nil),
        RejectionCase(name: "string at top level", body: #""tx""#, code: Code.malformedJSON, field: nil),
        RejectionCase(name: "null at top level", body: "null", code: Code.malformedJSON, field: nil),
        RejectionCase(name: "truncated", body: #"{"transaction_id": "tx"#, code: Code.malformedJSON, field: nil),
        RejectionCase(name: "trailing comma", body: requestBody(extra: #""x": 1,"#), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "trailing garbage", body: requestBody() + "x", code: Code.malformedJSON, field: nil),
        RejectionCase(name: "two objects", body: requestBody() + requestBody(), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "single quotes", body: "{'transaction_id': 'tx'}", code: Code.malformedJSON, field: nil),
        RejectionCase(name: "NaN amount", body: requestBody(amount: "NaN"), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "Infinity amount", body: requestBody(amount: "Infinity"), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "negative Infinity", body: requestBody(amount: "-Infinity"), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "leading zero", body: requestBody(amount: "0100.5"), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "bare point", body: requestBody(amount: "100."), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "leading plus", body: requestBody(amount: "+100"), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "empty exponent", body: requestBody(amount: "1e"), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "hex number", body: requestBody(amount: "0x10"), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "lone surrogate", body: requestBody(transactionID: #""\ud800""#), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "bad escape", body: requestBody(transactionID: #""\x41""#), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "raw newline in string", body: requestBody(transactionID: "\"a\nb\""), code: Code.malformedJSON, field: nil),
        RejectionCase(name: "comment", body: "// hi\n" + requestBody(), code: Code.malformedJSON, field: nil),
        RejectionCase(
            name: "nesting deeper than the limit",
            body: requestBody(extra: "\"deep\": " + String(repeating: "[", count: 101) + String(repeating: "]", count: 101)),
            code: Code.malformedJSON, field: nil),
    ]

    static let missingAndTypes: [RejectionCase] = [
        RejectionCase(name: "transaction_id absent", body: requestBody(transactionID: nil), code: Code.missingField, field: "transaction_id"),
        RejectionCase(name: "transaction_id null", body: requestBody(transactionID: "null"), code: Code.missingField, field: "transaction_id"),
        RejectionCase(name: "amount absent", body: requestBody(amount: nil), code: Code.missingField, field: "amount"),
        RejectionCase(name: "amount null", body: requestBody(amount: "null"), code: Code.missingField, field: "amount"),
        RejectionCase(name: "currency absent", body: requestBody(currency: nil), code: Code.missingField, field: "currency"),
        RejectionCase(name: "currency null", body: requestBody(currency: "null"), code: Code.missingField, field: "currency"),
        RejectionCase(name: "empty object", body: "{}", code: Code.missingField, field: "transaction_id"),
        RejectionCase(name: "amount as string", body: requestBody(amount: #""100.50""#), code: Code.invalidFieldType, field: "amount"),
        RejectionCase(name: "amount as boolean", body: requestBody(amount: "true"), code: Code.invalidFieldType, field: "amount"),
        RejectionCase(name: "amount as object", body: requestBody(amount: #"{"value": 1}"#), code: Code.invalidFieldType, field: "amount"),
        RejectionCase(name: "transaction_id as number", body: requestBody(transactionID: "123456"), code: Code.invalidFieldType, field: "transaction_id"),
        RejectionCase(name: "currency as array", body: requestBody(currency: #"["BRL"]"#), code: Code.invalidFieldType, field: "currency"),
        RejectionCase(name: "metadata as array", body: requestBody(metadata: #"["a"]"#), code: Code.invalidFieldType, field: "metadata"),
        RejectionCase(name: "metadata as string", body: requestBody(metadata: #""a=b""#), code: Code.invalidFieldType, field: "metadata"),
        RejectionCase(name: "metadata value number", body: requestBody(metadata: #"{"order_id": 12345}"#), code: Code.invalidFieldType, field: "metadata.order_id"),
        RejectionCase(name: "metadata value null", body: requestBody(metadata: #"{"a": "x", "order_id": null}"#), code: Code.invalidFieldType, field: "metadata.order_id"),
        RejectionCase(name: "metadata value object", body: requestBody(metadata: #"{"order_id": {}}"#), code: Code.invalidFieldType, field: "metadata.order_id"),
    ]

    static let fieldRules: [RejectionCase] = [
        RejectionCase(name: "transaction_id empty", body: requestBody(transactionID: #""""#), code: Code.emptyField, field: "transaction_id"),
        RejectionCase(name: "transaction_id whitespace", body: requestBody(transactionID: #"" \t ""#), code: Code.emptyField, field: "transaction_id"),
        RejectionCase(name: "currency empty", body: requestBody(currency: #""""#), code: Code.emptyField, field: "currency"),
        RejectionCase(name: "currency whitespace", body: requestBody(currency: #""   ""#), code: Code.emptyField, field: "currency"),
        RejectionCase(
            name: "transaction_id 129 characters", body: requestBody(transactionID: quoted(String(repeating: "t", count: 129))),
            code: Code.invalidTransactionID, field: "transaction_id"),
        RejectionCase(name: "transaction_id with escaped control", body: requestBody(transactionID: #""tx\u0001""#), code: Code.invalidTransactionID, field: "transaction_id"),
        RejectionCase(name: "transaction_id with newline", body: requestBody(transactionID: #""tx\n1""#), code: Code.invalidTransactionID, field: "transaction_id"),
        RejectionCase(name: "transaction_id with NUL", body: requestBody(transactionID: #""tx\u0000""#), code: Code.invalidTransactionID, field: "transaction_id"),
        RejectionCase(name: "amount zero", body: requestBody(amount: "0"), code: Code.invalidAmount, field: "amount"),
        RejectionCase(name: "amount 0.00", body: requestBody(amount: "0.00"), code: Code.invalidAmount, field: "amount"),
        RejectionCase(name: "amount minus zero", body: requestBody(amount: "-0"), code: Code.invalidAmount, field: "amount"),
        RejectionCase(name: "amount negative", body: requestBody(amount: "-100.50"), code: Code.invalidAmount, field: "amount"),
        RejectionCase(name: "amount negative and huge", body: requestBody(amount: "-1e400"), code: Code.invalidAmount, field: "amount"),
        RejectionCase(name: "100.505 BRL", body: requestBody(amount: "100.505"), code: Code.amountTooPrecise, field: "amount"),
        RejectionCase(name: "1.5 JPY", body: requestBody(amount: "1.5", currency: #""JPY""#), code: Code.amountTooPrecise, field: "amount"),
        RejectionCase(name: "1.2345 BHD", body: requestBody(amount: "1.2345", currency: #""BHD""#), code: Code.amountTooPrecise, field: "amount"),
        RejectionCase(name: "1.00001 CLF", body: requestBody(amount: "1.00001", currency: #""CLF""#), code: Code.amountTooPrecise, field: "amount"),
        RejectionCase(name: "exponent adds places", body: requestBody(amount: "1e-3"), code: Code.amountTooPrecise, field: "amount"),
        RejectionCase(name: "underflows Decimal", body: requestBody(amount: "1e-400"), code: Code.amountTooPrecise, field: "amount"),
        RejectionCase(
            name: "more digits than Decimal holds (would round to 1)", body: requestBody(amount: "1." + String(repeating: "0", count: 40) + "1"),
            code: Code.amountTooPrecise, field: "amount"),
        RejectionCase(name: "10^12", body: requestBody(amount: "1000000000000"), code: Code.amountTooLarge, field: "amount"),
        RejectionCase(name: "just over the max", body: requestBody(amount: "999999999999.991", currency: #""BHD""#), code: Code.amountTooLarge, field: "amount"),
        RejectionCase(name: "exponent form over the max", body: requestBody(amount: "1e12"), code: Code.amountTooLarge, field: "amount"),
        RejectionCase(name: "beyond Decimal range", body: requestBody(amount: "1e400"), code: Code.amountTooLarge, field: "amount"),
        RejectionCase(name: "absurd exponent", body: requestBody(amount: "1e99999999999999999999999"), code: Code.amountTooLarge, field: "amount"),
        RejectionCase(
            name: "more digits than Decimal holds (large)", body: requestBody(amount: "123456789012345678901234567890123456789012"),
            code: Code.amountTooLarge, field: "amount"),
        RejectionCase(name: "currency lower case", body: requestBody(currency: #""brl""#), code: Code.invalidCurrency, field: "currency"),
        RejectionCase(name: "currency two letters", body: requestBody(currency: #""BR""#), code: Code.invalidCurrency, field: "currency"),
        RejectionCase(name: "currency four letters", body: requestBody(currency: #""BRLX""#), code: Code.invalidCurrency, field: "currency"),
        RejectionCase(name: "currency symbol", body: requestBody(currency: #""R$""#), code: Code.invalidCurrency, field: "currency"),
        RejectionCase(name: "currency padded", body: requestBody(currency: #"" BRL""#), code: Code.invalidCurrency, field: "currency"),
        RejectionCase(name: "currency non-ASCII", body: requestBody(currency: #""ÄBC""#), code: Code.invalidCurrency, field: "currency"),
        RejectionCase(name: "51 metadata keys", body: requestBody(metadata: metadataObject(count: 51)), code: Code.invalidMetadata, field: "metadata"),
        RejectionCase(name: "empty metadata key", body: requestBody(metadata: #"{"": "x"}"#), code: Code.invalidMetadata, field: "metadata"),
        RejectionCase(
            name: "65-character metadata key", body: requestBody(metadata: "{\(quoted(String(repeating: "k", count: 65))): \"x\"}"),
            code: Code.invalidMetadata, field: "metadata"),
        RejectionCase(
            name: "513-character metadata value", body: requestBody(metadata: "{\"note\": \(quoted(String(repeating: "v", count: 513)))}"),
            code: Code.invalidMetadata, field: "metadata.note"),
        RejectionCase(
            name: "overlong key is reported before its wrong type",
            body: requestBody(metadata: "{\(quoted(String(repeating: "k", count: 65))): 1}"),
            code: Code.invalidMetadata, field: "metadata"),
    ]

    static let ordering: [RejectionCase] = [
        RejectionCase(
            name: "transaction_id before amount", body: requestBody(transactionID: #""""#, amount: "-1"),
            code: Code.emptyField, field: "transaction_id"),
        RejectionCase(
            name: "transaction_id before a metadata type error", body: requestBody(transactionID: "1", metadata: "[]"),
            code: Code.invalidFieldType, field: "transaction_id"),
        RejectionCase(
            name: "transaction_id rule before a metadata type error", body: requestBody(transactionID: #""""#, metadata: "[]"),
            code: Code.emptyField, field: "transaction_id"),
        RejectionCase(
            name: "amount before currency", body: requestBody(amount: #""1""#, currency: "3"),
            code: Code.invalidFieldType, field: "amount"),
        RejectionCase(
            name: "amount sign before currency", body: requestBody(amount: "0", currency: #""brl""#),
            code: Code.invalidAmount, field: "amount"),
        RejectionCase(
            name: "precision needs a valid currency", body: requestBody(amount: "100.505", currency: #""brl""#),
            code: Code.invalidCurrency, field: "currency"),
        RejectionCase(
            name: "precision before metadata", body: requestBody(amount: "1.5", currency: #""JPY""#, metadata: "1"),
            code: Code.amountTooPrecise, field: "amount"),
        RejectionCase(
            name: "currency before metadata", body: requestBody(currency: #""BR""#, metadata: metadataObject(count: 51)),
            code: Code.invalidCurrency, field: "currency"),
        RejectionCase(
            name: "missing amount before missing currency", body: requestBody(amount: nil, currency: nil),
            code: Code.missingField, field: "amount"),
    ]

    @Test("Malformed bodies", arguments: malformed)
    func malformedBodies(_ rejection: RejectionCase) {
        expectRejected(rejection)
    }

    @Test("Missing fields and wrong types", arguments: missingAndTypes)
    func missingAndWrongTypes(_ rejection: RejectionCase) {
        expectRejected(rejection)
    }

    @Test("Field rules", arguments: fieldRules)
    func brokenRules(_ rejection: RejectionCase) {
        expectRejected(rejection)
    }

    @Test("The first problem in field order wins", arguments: ordering)
    func firstProblemWins(_ rejection: RejectionCase) {
        expectRejected(rejection)
    }

    @Test("Bytes that are not UTF-8 are malformed", arguments: [[0xFF], [0xC3, 0x28], [0xED, 0xA0, 0x80]] as [[UInt8]])
    func invalidUTF8(_ prefix: [UInt8]) {
        // Invalid bytes inside a string value, where a lenient decoder might let them through.
        let bytes = Array(#"{"transaction_id": "tx"#.utf8) + prefix + Array(#"", "amount": 1, "currency": "BRL"}"#.utf8)
        let error = decodingError(bytes)
        #expect(error?.code == Code.malformedJSON)
        #expect(error?.field == nil)
    }

    @Test("Messages name the field and the rule")
    func messages() throws {
        let precise = try #require(decodingError(requestBody(amount: "100.505")))
        #expect(precise.message == "Field 'amount' has 3 decimal places but BRL allows at most 2.")
        let large = try #require(decodingError(requestBody(amount: "1e12")))
        #expect(large.message == "Field 'amount' must not exceed 999999999999.99.")
        let missing = try #require(decodingError(requestBody(currency: nil)))
        #expect(missing.message.contains("'currency'"))
        #expect(missing.description.hasPrefix("missing_field (currency): "))
    }

    private func expectRejected(_ rejection: RejectionCase, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = decodingError(rejection.body)
        #expect(error?.code == rejection.code, "\(error?.message ?? "accepted")", sourceLocation: sourceLocation)
        #expect(error?.field == rejection.field, sourceLocation: sourceLocation)
        #expect(error?.message.isEmpty == false, sourceLocation: sourceLocation)
    }
}
