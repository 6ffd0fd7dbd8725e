
/// What makes two capture requests "the same request" for idempotency: every field, with the
/// amount compared by exact value (100.5 and 100.50 are the same) and metadata in key order.
public enum CaptureFingerprint {
    /// Each part length-prefixed (`<UTF-8 length>:<part>`), so that no choice of field contents
    /// can make two requests collide: the transaction id, the amount, the currency, then each
    /// metadata entry in key order, as one part `key=value`. A key that itself holds `=` would
    /// make that part ambiguous (`a` = `b=c` and `a=b` = `c` are both `a=b=c`), so such an entry
    /// is written as `=` and its key and value as two parts; no other part starts with `=`. Every
    /// other fingerprint is as it always was, so replicas of earlier versions derive the same
    /// attempt ids from them. Written into one string, as it is computed for every capture.
    public static func of(_ request: CaptureRequest) -> String {
        let amount = request.amount.description
        var text = ""
        text.reserveCapacity(request.transactionID.utf8.count + amount.utf8.count + 16)
        appendPart(request.transactionID, to: &text)
        appendPart(amount, to: &text)
        appendPart(request.currency.code, to: &text)
        if let metadata = request.metadata {
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
                if key.utf8.contains(UInt8(ascii: "=")) {
                    text += "="
                    appendPart(key, to: &text)
                    appendPart(value, to: &text)
                } else {
                    text += String(key.utf8.count + 1 + value.utf8.count)
                    text += ":"
                    text += key
                    text += "="
                    text += value
                }
            }
        }
        return text
    }

    private static func appendPart(_ part: String, to text: inout String) {
        text += String(part.utf8.count)
        text += ":"
        text += part
    }
}
