/// Why a correlated wait ended without a reply.
public enum CorrelationFailure: Error, Sendable, Hashable, CustomStringConvertible {
    /// The deadline passed before the reply arrived. The request may still be processed.
    case timedOut
    /// The waiting task was cancelled: the HTTP client went away.
    case cancelled
    /// The registry is shutting down; the request may still be processed.
    case shuttingDown
    /// Another wait for the same key is in progress.
    case duplicateKey
    /// The limit of waits in progress is reached; nothing was registered.
    case capacityExceeded(limit: Int)
    /// The waiter was failed explicitly (for example the processor answered with an error).
    case failed(reason: String)

    public var description: String {
        switch self {
        case .timedOut: "no reply before the deadline"
        case .cancelled: "the waiting request was cancelled"
        case .shuttingDown: "shutting down"
        case .duplicateKey: "a request with this correlation id is already waiting"
        case .capacityExceeded(let limit): "too many requests waiting (limit \(limit))"
        case .failed(let reason): reason
        }
    }
}

/// What became of a reply handed to the registry.
public enum CorrelationDelivery: Sendable, Hashable {
    /// A waiter was waiting for it and has it now.
    case delivered
    /// Its waiter recently gave up (timeout, cancellation, shutdown): the reply came too late.
    case late
    /// Nobody here waited for it: another replica's reply, or a stray record.
    case unmatched
}
