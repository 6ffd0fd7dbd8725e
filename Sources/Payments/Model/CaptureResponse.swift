/// The answer to a capture, as returned over HTTP and received from the processor over Kafka.
public struct CaptureResponse: Sendable, Hashable, Codable {
    /// Pairs this reply with the request that caused it.
    public var correlationID: CorrelationID
    /// The merchant's transaction identifier, echoed back.
    public var transactionID: String
    /// The outcome.
    public var status: CaptureStatus
    /// Present on approval; omitted from JSON when nil.
    public var authorizationCode: String?
    /// Machine-readable reason on failure; omitted from JSON when nil.
    public var errorCode: String?
    /// Human-readable reason on failure; omitted from JSON when nil.
    public var errorMessage: String?

    /// Creates a response with any combination of fields, e.g. for an `.other` status.
    public init(
        correlationID: CorrelationID,
        transactionID: String,
        status: CaptureStatus,
        authorizationCode: String? = nil,
        errorCode: String? = nil,
        errorMessage: String? = nil
    ) {
        self.correlationID = correlationID
        self.transactionID = transactionID
        self.status = status
        self.authorizationCode = authorizationCode
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    /// An approval carrying the processor's authorization code and no error fields.
    public static func approved(
        correlationID: CorrelationID, transactionID: String, authorizationCode: String
    ) -> CaptureResponse {
        CaptureResponse(
            correlationID: correlationID, transactionID: transactionID, status: .approved,
            authorizationCode: authorizationCode)
    }

    /// A decline; the defaults are the exact texts the original service sent, which clients may match on.
    public static func declined(
        correlationID: CorrelationID,
        transactionID: String,
        errorCode: String = "payment_declined",
        errorMessage: String = "Pagamento recusado pela operadora"
    ) -> CaptureResponse {
        CaptureResponse(
            correlationID: correlationID, transactionID: transactionID, status: .declined,
            errorCode: errorCode, errorMessage: errorMessage)
    }

    // Field names are the wire contract inherited from the original Go service; the synthesised
    // coding uses encodeIfPresent, which omits nil optionals instead of writing null.
    private enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id"
        case transactionID = "transaction_id"
        case status
        case authorizationCode = "authorization_code"
        case errorCode = "error_code"
        case errorMessage = "error_message"
    }

    /// The answer to a request whose deadline passed before processing: it was not processed.
    public static func expired(correlationID: CorrelationID, transactionID: String) -> CaptureResponse {
        CaptureResponse(
            correlationID: correlationID, transactionID: transactionID, status: .expired, errorCode: "deadline_exceeded",
            errorMessage: "the request's deadline passed before it was processed; nothing was captured")
    }
}
