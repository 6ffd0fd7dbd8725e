import Synchronization

/// Runs asynchronous operations one at a time, in the order they were asked for, until closed.
///
/// A consumer replaces its librdkafka client for two unrelated reasons (an outage, a starved
/// fetch), and closes it for a third: two of these at once would stop the same polling thread and
/// destroy the same handle twice. Operations are rare (seconds apart at the very least), so a Task
/// each is cheaper to reason about than a queue of continuations.
final class SerialOperations: Sendable {
    private struct State {
        var isClosed = false
        var last: Task<Void, Never>?
    }

    private let state = Mutex(State())

    /// Runs `operation` once every operation asked for earlier has ended, and returns when it has
    /// run. Returns at once, without running it, after ``close()``.
    func run(_ operation: @escaping @Sendable () async -> Void) async {
        let task: Task<Void, Never>? = state.withLock { state in
            guard !state.isClosed else { return nil }
            let previous = state.last
            let task = Task {
                await previous?.value
                await operation()
            }
            state.last = task
            return task
        }
        await task?.value
    }

    /// True once an operation was accepted (for tests).
    var hasAccepted: Bool { state.withLock { $0.last != nil } }

    /// Refuses operations from now on and returns once those already accepted have ended.
    func close() async {
        let last = state.withLock { state in
            state.isClosed = true
            return state.last
        }
        await last?.value
    }
}
