import Synchronization

/// Capture requests on their way to the registry's actor: the request's task leaves its
/// submission here without hopping onto the actor, and the registry's loop takes what has
/// arrived a batch at a time (one hop per batch).
final class SubmissionInbox: Sendable {
    typealias Submission = (capture: CaptureSubmission, waiter: CaptureWaiter)

    private struct State {
        var pending: [Submission] = []
        /// The registry's loop, suspended until a submission arrives.
        var reader: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let state = Mutex(State())

    /// Leaves a submission for the registry; false once the inbox is closed (shutdown).
    func push(_ submission: Submission) -> Bool {
        let (accepted, reader) = state.withLock { state -> (Bool, CheckedContinuation<Void, Never>?) in
            guard !state.closed else { return (false, nil) }
            state.pending.append(submission)
            defer { state.reader = nil }
            return (true, state.reader)
        }
        reader?.resume()
        return accepted
    }

    /// Everything that arrived since the last call, waiting for something if nothing did; `nil`
    /// once closed (what was left is returned first) or when the calling task is cancelled.
    func nextBatch() async -> [Submission]? {
        while true {
            let (batch, closed) = state.withLock { state -> ([Submission], Bool) in
                // Handed over whole, not emptied in place: emptying an array that the batch
                // still shares allocates a new one of the same capacity, so the inbox would keep
                // the capacity of its largest burst for good.
                defer { state.pending = [] }
                return (state.pending, state.closed)
            }
            if !batch.isEmpty { return batch }
            if closed || Task.isCancelled { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let wakeNow = state.withLock { state in
                        if !state.pending.isEmpty || state.closed || Task.isCancelled { return true }
                        precondition(state.reader == nil, "one loop reads the inbox")
                        state.reader = continuation
                        return false
                    }
                    if wakeNow { continuation.resume() }
                }
            } onCancel: {
                let reader = state.withLock { state in
                    defer { state.reader = nil }
                    return state.reader
                }
                reader?.resume()
            }
        }
    }

    /// Refuses submissions from now on and ends the loop once it has taken what is left.
    func close() {
        let reader = state.withLock { state in
            state.closed = true
            defer { state.reader = nil }
            return state.reader
        }
        reader?.resume()
    }
}
