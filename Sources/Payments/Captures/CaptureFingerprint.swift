
/// What makes two capture requests "the same request" for idempotency: every field, with the
/// amount compared by exact value (100.5 and 100.50 are the same) and metadata in key order.
public enum CaptureFingerprint {
    public static func of(_ request: CaptureRequest) -> String {
        var parts = [request.transactionID, request.amount.description, request.currency.code]
        for (key, value) in (request.metadata ?? [:]).sorted(by: { $0.key < $1.key }) {
            parts.append("\(key)=\(value)")
        }
        // Length-prefixed, so that no choice of field contents can make two requests collide.
        return parts.map { "\($0.utf8.count):\($0)" }.joined()
    }
}
