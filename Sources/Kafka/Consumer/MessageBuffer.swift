import DequeModule
import Synchronization

/// The hand-off between a consumer's polling thread and the one task that iterates its messages.
///
/// The polling thread pushes without ever blocking; the consumer watches ``count`` and pauses its
/// partitions when the buffer is full, so memory stays bounded whatever the backlog.
final class MessageBuffer: Sendable {
    private struct State {
        var messages: Deque<KafkaMessage> = []
        var waiter: CheckedContinuation<KafkaMessage?, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.messages.count } }

    /// Adds a message, handing it straight to a waiting reader if there is one. Returns the number
    /// of messages left buffered.
    @discardableResult
    func push(_ message: KafkaMessage) -> Int {
        let (waiter, count) = state.withLock { state -> (CheckedContinuation<KafkaMessage?, Never>?, Int) in
            guard !state.finished else { return (nil, state.messages.count) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (waiter, state.messages.count)
            }
            state.messages.append(message)
            return (nil, state.messages.count)
        }
        waiter?.resume(returning: message)
        return count
    }

    /// Drops buffered messages that match, for example those of partitions just revoked.
    func removeAll(where shouldRemove: (KafkaMessage) -> Bool) {
        state.withLock { $0.messages.removeAll(where: shouldRemove) }
    }

    /// Ends the sequence: the reader gets `nil` once the buffer is empty... or at once, since a
    /// closed consumer must not hand out messages whose offsets can no longer be committed.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            state.messages.removeAll()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// The next message, waiting for one if necessary; `nil` once finished or when the calling task
    /// is cancelled.
    func next() async -> KafkaMessage? {
        if let ready = state.withLock({ $0.messages.popFirst() }) { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let immediate: KafkaMessage?? = state.withLock { state in
                    if let message = state.messages.popFirst() { return .some(message) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    precondition(state.waiter == nil, "a consumer's messages may be iterated by one task only")
                    state.waiter = continuation
                    return .none
                }
                if case .some(let message) = immediate { continuation.resume(returning: message) }
            }
        } onCancel: {
            let waiter = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }
}
