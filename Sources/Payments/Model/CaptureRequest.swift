/// A request to capture a payment, as posted to `/api/v1/payments/capture` and sent to the processor.
///
/// `Codable` here is structural only; bodies from clients should go through
/// `CaptureRequestDecoder`, which also enforces the business rules with precise error codes.
public struct CaptureRequest: Sendable, Hashable, Codable {
    /// The merchant's identifier for the transaction.
    public var transactionID: String
    /// How much to capture, exactly.
    public var amount: Amount
    /// The currency of `amount`.
    public var currency: CurrencyCode
    /// Free-form string pairs passed through to the processor; omitted from JSON when nil.
    public var metadata: [String: String]?

    /// Creates a request; call `CaptureRequestValidator.validate(_:)` before sending one built from user input.
    public init(transactionID: String, amount: Amount, currency: CurrencyCode, metadata: [String: String]? = nil) {
        self.transactionID = transactionID
        self.amount = amount
        self.currency = currency
        self.metadata = metadata
    }

    // Field names are the wire contract inherited from the original Go service.
    private enum CodingKeys: String, CodingKey {
        case transactionID = "transaction_id"
        case amount
        case currency
        case metadata
    }
}
