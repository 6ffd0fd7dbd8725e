import ServiceContextModule

/// A validated capture request with the name it goes by for idempotency, ready for the
/// ``CorrelationRegistry``.
public struct CaptureSubmission: Sendable {
    public let request: CaptureRequest
    /// The `Idempotency-Key` header when the client sent one, else the transaction id.
    public let key: String
    /// Whether ``key`` is the client's `Idempotency-Key` (rather than the transaction id).
    public let keyIsExplicit: Bool
    /// What makes two requests under one key the same request (``CaptureFingerprint``).
    public let fingerprint: String
    /// The trace the request belongs to, carried on to the processor: the registry sends the
    /// request from its own task, where no task-local context is this request's.
    public var traceContext: ServiceContext = .topLevel
    /// The client asked not to wait (`Prefer: respond-async`): the answer is
    /// ``CaptureAnswer/accepted(_:replayed:)`` as soon as the capture is under way.
    public var respondAsync = false

    public init(_ request: CaptureRequest, idempotencyKey: String?) {
        self.request = request
        key = idempotencyKey ?? request.transactionID
        keyIsExplicit = idempotencyKey != nil
        fingerprint = CaptureFingerprint.of(request)
    }
}
