import Foundation
import JSONText

/// Turns an untrusted HTTP body into a valid `CaptureRequest`, or says precisely what is wrong.
///
/// Problems are reported one at a time, the first in field order (transaction_id, amount,
/// currency, metadata). The one exception is forced by the rules: whether an amount has too many
/// decimal places depends on the currency, so that check runs once the currency is known good.
/// Unknown top-level fields are ignored for compatibility; for duplicate keys the first wins,
/// as with `JSONDecoder`. Body size limits belong to the HTTP layer, before this is called.
public enum CaptureRequestDecoder {
    /// Decodes and validates a body held in `Data`.
    public static func decode(_ body: Data) throws(CaptureValidationError) -> CaptureRequest {
        try decode(Array(body))
    }

    /// Decodes and validates a body given as raw bytes.
    public static func decode(_ body: [UInt8]) throws(CaptureValidationError) -> CaptureRequest {
        let object = try parseObject(body)

        let transactionID = try requiredString(object, FieldName.transactionID)
        try CaptureRequestValidator.checkTransactionID(transactionID)

        let amount = try requiredAmount(object)
        try CaptureRequestValidator.checkAmountMagnitude(amount)

        let currency = try CaptureRequestValidator.checkCurrency(try requiredString(object, FieldName.currency))
        try CaptureRequestValidator.checkAmountPrecision(amount, currency: currency)

        let metadata = try decodeMetadata(object[FieldName.metadata])

        // The checks above leave at most 16 significant digits, which Decimal always holds exactly.
        guard let decimal = amount.decimal, !decimal.isNaN else {
            throw CaptureValidationError(
                code: CaptureValidationError.Code.amountTooLarge,
                message: "Field '\(FieldName.amount)' cannot be represented exactly.", field: FieldName.amount)
        }
        return CaptureRequest(transactionID: transactionID, amount: Amount(decimal, literal: amount), currency: currency, metadata: metadata)
    }

    private static func parseObject(_ body: [UInt8]) throws(CaptureValidationError) -> JSONObject {
        guard String(validating: body, as: UTF8.self) != nil else {
            throw malformed("Request body is not valid UTF-8.")
        }
        let document: JSONValue
        do {
            document = try JSONParser.parse(body)
        } catch {
            if let key = error.duplicateKey {
                throw CaptureValidationError(
                    code: CaptureValidationError.Code.duplicateField,
                    message: "The key \"\(key)\" appears more than once in one object; which value counts would be ambiguous.",
                    field: key)
            }
            throw malformed("Request body is not valid JSON: \(error.reason) at byte \(error.offset).")
        }
        guard case .object(let object) = document else {
            throw malformed("Request body must be a JSON object, not \(document.typeName).")
        }
        return object
    }

    private static func requiredString(_ object: JSONObject, _ field: String) throws(CaptureValidationError) -> String {
        switch object[field] {
        case .string(let text): return text
        case nil, .null: throw missing(field)
        case let other?: throw wrongType(field, expected: "a string", got: other)
        }
    }

    private static func requiredAmount(_ object: JSONObject) throws(CaptureValidationError) -> DecimalLiteral {
        let field = FieldName.amount
        switch object[field] {
        case .number(let text):
            // The parser only produces numbers that DecimalLiteral accepts.
            guard let literal = DecimalLiteral(text, grammar: .json) else {
                throw wrongType(field, expected: "a number", got: .number(text))
            }
            return literal
        case nil, .null: throw missing(field)
        case let other?: throw wrongType(field, expected: "a number", got: other)
        }
    }

    /// Size rules and types are checked entry by entry in document order, keys first.
    private static func decodeMetadata(_ value: JSONValue?) throws(CaptureValidationError) -> [String: String]? {
        let object: JSONObject
        switch value {
        case nil, .null: return nil
        case .object(let found): object = found
        case let other?: throw wrongType(FieldName.metadata, expected: "an object of strings", got: other)
        }
        try CaptureRequestValidator.checkMetadataCount(object.members.count)
        var metadata: [String: String] = [:]
        for (key, value) in object.members {
            try CaptureRequestValidator.checkMetadataKey(key)
            guard case .string(let text) = value else {
                throw wrongType(FieldName.metadataEntry(key), expected: "a string", got: value)
            }
            try CaptureRequestValidator.checkMetadataValue(text, key: key)
            metadata[key] = text
        }
        return metadata
    }

    private static func malformed(_ message: String) -> CaptureValidationError {
        CaptureValidationError(code: CaptureValidationError.Code.malformedJSON, message: message, field: nil)
    }

    private static func missing(_ field: String) -> CaptureValidationError {
        CaptureValidationError(
            code: CaptureValidationError.Code.missingField,
            message: "Field '\(field)' is required and must not be null.", field: field)
    }

    private static func wrongType(_ field: String, expected: String, got value: JSONValue) -> CaptureValidationError {
        CaptureValidationError(
            code: CaptureValidationError.Code.invalidFieldType,
            message: "Field '\(field)' must be \(expected), not \(value.typeName).", field: field)
    }
}
