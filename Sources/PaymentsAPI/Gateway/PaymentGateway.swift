import Operations
import Payments

/// What the HTTP layer needs from whatever carries captures to the processor and back.
///
/// The Kafka request-reply gateway is the real one; unit tests of the HTTP layer substitute
/// their own.
public protocol PaymentGateway: Sendable {
    /// Sends a capture to the processor and waits for its answer.
    ///
    /// - Parameter idempotencyKey: names the capture; it travels in a header (requests for one
    ///   transaction go to the same partition, so the same processor instance).
    func capture(_ request: CaptureRequest, correlationID: CorrelationID, idempotencyKey: String?) async throws(CaptureError)
        -> CaptureResponse

    /// What is known of a capture: its final answer, that it is still waiting, or nothing.
    func lookUp(_ correlationID: CorrelationID) async -> PaymentLookup

    /// Whether captures can be accepted now, and if not, why.
    var readiness: Readiness { get }
}

/// What a replica knows of a capture, by correlation id.
public enum PaymentLookup: Sendable, Hashable {
    /// The processor's answer, whenever it arrived (in time or late).
    case final(CaptureResponse)
    /// Sent by this replica and still waiting for its answer, or sent and given up on recently
    /// (timeout): its answer may still come.
    case pending
    /// Never seen here, or forgotten (the store of answers is bounded in size and age).
    case unknown
}

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
}
