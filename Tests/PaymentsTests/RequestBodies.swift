import Payments

/// Builds a capture body from raw JSON fragments; nil leaves a field out, so every test states
/// only the field it is about and the rest stays valid.
func requestBody(
    transactionID: String? = #""tx_123456""#,
    amount: String? = "100.50",
    currency: String? = #""BRL""#,
    metadata: String? = nil,
    extra: String? = nil
) -> String {
    let members: [(String, String?)] = [
        ("transaction_id", transactionID), ("amount", amount), ("currency", currency), ("metadata", metadata),
    ]
    var parts = members.compactMap { name, value in value.map { "\"\(name)\": \($0)" } }
    if let extra { parts.append(extra) }
    return "{" + parts.joined(separator: ", ") + "}"
}

/// Quotes `text` as a JSON string (enough for the plain ASCII used in these tests).
func quoted(_ text: String) -> String {
    "\"\(text)\""
}

/// A metadata object with `count` distinct keys.
func metadataObject(count: Int) -> String {
    "{" + (0..<count).map { "\"k\($0)\": \"v\"" }.joined(separator: ", ") + "}"
}

/// The error decoding `body` produces, or nil if it is accepted.
func decodingError(_ body: String) -> CaptureValidationError? {
    decodingError(Array(body.utf8))
}

/// The error decoding `bytes` produces, or nil if they are accepted.
func decodingError(_ bytes: [UInt8]) -> CaptureValidationError? {
    do {
        _ = try CaptureRequestDecoder.decode(bytes)
        return nil
    } catch {
        return error
    }
}
