/// Carries a capture request to the processor. The correlation registry calls it, on its own
/// executor, when a capture needs its request sent; the answer comes back separately
/// (``CorrelationRegistry/deliver(_:)``).
public protocol CaptureTransport: Sendable {
    /// Hands the request of one attempt over for sending and returns at once.
    ///
    /// - Parameters:
    ///   - capture: the request, its idempotency key and its trace context.
    ///   - attempt: the correlation id the request carries and its reply will carry.
    ///   - deadline: when the requester stops waiting, in milliseconds since the Unix epoch.
    ///   - othersInProgress: how many other captures are waiting for their answers: a transport
    ///     may hold a request back briefly to batch it with others when many are.
    ///   - onFailure: called at most once, from any thread, when the request turns out not to
    ///     have been delivered after all.
    /// - Throws: when the request cannot be handed over (it was certainly not sent).
    func send(
        _ capture: CaptureSubmission, attempt: CorrelationID, deadline: Int64, othersInProgress: Int,
        onFailure: @escaping @Sendable (SendFailure) -> Void
    ) throws(CaptureError)
}

/// A request that was handed over but not delivered.
public struct SendFailure: Error, Sendable, Hashable {
    /// What went wrong, for logs and the client's error message.
    public var reason: String
    /// True when the request certainly never reached the processor's topic: the capture may be
    /// forgotten and retried. False when it may have (sent, not acknowledged): its answer may
    /// still come, so the capture keeps waiting.
    public var certainlyNotSent: Bool

    public init(reason: String, certainlyNotSent: Bool) {
        self.reason = reason
        self.certainlyNotSent = certainlyNotSent
    }
}
