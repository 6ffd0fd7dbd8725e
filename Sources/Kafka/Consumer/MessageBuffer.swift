import DequeModule
import Synchronization

/// The hand-off between a consumer's polling thread and the one task that reads its messages.
///
/// The polling thread pushes a batch at a time without ever blocking; the consumer watches
/// ``count`` and pauses its partitions when the buffer is full, so memory stays bounded whatever
/// the backlog. The reader takes one message or a whole batch at a time: one wake-up per batch.
final class MessageBuffer: Sendable {
    private struct State {
        var messages: Deque<KafkaMessage> = []
        /// The reader, suspended until a push (or finish) wakes it.
        var waiter: CheckedContinuation<Void, Never>?
        var finished = false
    }

    private let state = Mutex(State())

    var count: Int { state.withLock { $0.messages.count } }

    /// Adds messages and wakes the reader if it waits.
    func push(_ batch: [KafkaMessage]) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.messages.append(contentsOf: batch)
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// Drops buffered messages that match, for example those of partitions just revoked.
    func removeAll(where shouldRemove: (KafkaMessage) -> Bool) {
        state.withLock { $0.messages.removeAll(where: shouldRemove) }
    }

    /// Ends the sequence at once, dropping what is buffered: a closed consumer must not hand out
    /// messages whose offsets can no longer be committed.
    func finish() {
        let waiter = state.withLock { state in
            state.finished = true
            state.messages.removeAll()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume()
    }

    /// The next message, waiting for one if necessary; `nil` once finished or when the calling
    /// task is cancelled.
    func next() async -> KafkaMessage? {
        await nextBatch(maximumCount: 1)?.first
    }

    /// Up to `maximumCount` buffered messages (at least one), waiting for one if necessary; `nil`
    /// once finished or when the calling task is cancelled.
    func nextBatch(maximumCount: Int) async -> [KafkaMessage]? {
        while true {
            switch take(maximumCount) {
            case .batch(let batch): return batch
            case .finished: return nil
            case .empty: break
            }
            guard !Task.isCancelled else { return nil }
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let wakeNow = state.withLock { state in
                        if !state.messages.isEmpty || state.finished || Task.isCancelled { return true }
                        precondition(state.waiter == nil, "a consumer's messages may be read by one task only")
                        state.waiter = continuation
                        return false
                    }
                    if wakeNow { continuation.resume() }
                }
            } onCancel: {
                let waiter = state.withLock { state in
                    defer { state.waiter = nil }
                    return state.waiter
                }
                waiter?.resume()
            }
        }
    }

    private enum Taken {
        case batch([KafkaMessage])
        case empty
        case finished
    }

    private func take(_ maximumCount: Int) -> Taken {
        state.withLock { state in
            if state.finished { return .finished }
            guard !state.messages.isEmpty else { return .empty }
            let count = min(maximumCount, state.messages.count)
            let batch = Array(state.messages.prefix(count))
            state.messages.removeFirst(count)
            return .batch(batch)
        }
    }
}
