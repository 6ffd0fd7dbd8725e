/// The JSON body of every error the payments API answers: a machine-readable code, a human
/// message, and where they apply, the offending field, the capture's correlation id and where to
/// ask for its outcome. The names match a declined capture's `error_code` / `error_message`, so
/// a client reads every failure the same way.
public struct APIErrorBody: Codable, Sendable, Hashable {
    public var errorCode: String
    public var errorMessage: String
    public var field: String?
    public var correlationID: String?
    /// Where to ask for the capture's outcome later (after a 504, or a 503 while shutting down).
    public var statusURL: String?

    public init(errorCode: String, errorMessage: String, field: String? = nil, correlationID: String? = nil, statusURL: String? = nil) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.field = field
        self.correlationID = correlationID
        self.statusURL = statusURL
    }

    enum CodingKeys: String, CodingKey {
        case errorCode = "error_code"
        case errorMessage = "error_message"
        case field
        case correlationID = "correlation_id"
        case statusURL = "status_url"
    }
}
