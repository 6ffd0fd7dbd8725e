/// How one capture request ends, as the HTTP layer answers it.
public enum CaptureAnswer: Sendable, Hashable {
    /// The processor's answer (a verdict, or `expired` / `error`). `replayed` when this request
    /// shared it with an earlier or concurrent request of the same idempotency key.
    case answered(CaptureResponse, replayed: Bool)
    /// No answer to pass on; `replayed` as above.
    case failed(CaptureError, replayed: Bool)
    /// The idempotency key was used for a different request.
    case conflict
    /// Under way, under this correlation id, and not waited for (the client asked to be
    /// answered at once); `replayed` when an earlier request of the same key sent it.
    case accepted(CorrelationID, replayed: Bool)
}

/// What is known of a capture by its correlation id.
public enum PaymentLookup: Sendable, Hashable {
    /// The processor's answer, whenever it arrived (in time or late).
    case final(CaptureResponse)
    /// Sent and still waiting for its answer, or given up on (timeout) with its answer still
    /// possible.
    case pending
    /// Never seen here, or forgotten (answers are kept for a bounded number and age).
    case unknown
}

/// A reply read from the processor, as the registry takes it.
public enum CaptureReply: Sendable, Hashable {
    /// A readable answer, under the correlation id of the request it answers.
    case response(CaptureResponse)
    /// A reply for `correlationID` whose body could not be read: its waiter fails with
    /// ``CaptureError/processorError(_:reason:)``.
    case unreadable(CorrelationID, reason: String)

    public var correlationID: CorrelationID {
        switch self {
        case .response(let response): response.correlationID
        case .unreadable(let id, _): id
        }
    }
}

/// What became of a reply handed to the registry (for metrics).
public enum ReplyDelivery: Sendable, Hashable {
    /// It ended a capture somebody waits for.
    case delivered
    /// Its capture is known here but nobody waits any more (the wait timed out or was given up).
    case late
    /// Not for a capture of this replica: another replica's, a duplicate, or a stray record.
    case unmatched
}
