/// Why a capture did not end with the processor's verdict.
public enum CaptureError: Error, Sendable, Hashable {
    /// The request was certainly not sent (broker unreachable, client not positioned yet, queue
    /// full): retrying is safe.
    case unavailable(reason: String)
    /// Too many captures are waiting on this replica.
    case overloaded(limit: Int)
    /// No answer before the deadline. The processor may still have captured the payment.
    case timedOut(CorrelationID)
    /// The replica is shutting down. With a correlation id the request may have been sent;
    /// without one it was refused before being sent.
    case shuttingDown(CorrelationID?)
    /// The processor answered, but not with a capture verdict this API can pass on.
    case processorError(CorrelationID, reason: String)
    /// The HTTP client went away; nobody is left to answer. With a correlation id the request
    /// may have been sent.
    case clientGone(CorrelationID?)

    /// The correlation id, when the request got as far as being assigned one.
    public var correlationID: CorrelationID? {
        switch self {
        case .timedOut(let id), .processorError(let id, _): id
        case .shuttingDown(let id), .clientGone(let id): id
        case .unavailable, .overloaded: nil
        }
    }
}
