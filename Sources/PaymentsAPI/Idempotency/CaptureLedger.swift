import DequeModule
import Payments
import Synchronization

/// Remembers captures by idempotency key, so that a retried or duplicated capture never becomes
/// a second payment.
///
/// - A duplicate that arrives while the first is in flight joins it: one request reaches Kafka
///   and every caller gets the same answer.
/// - A duplicate after a verdict gets that verdict again, marked as a replay, for the retention.
/// - After an unknown outcome (timeout, shutdown, client gone: the request may have been sent),
///   a retry first looks for a reply that arrived late; only if there is none does it send again,
///   which is safe because the processor is idempotent by transaction id.
/// - After a capture that was certainly not sent (503) or certainly not captured (expired, or a
///   processor error), the key is forgotten: a retry is new.
/// - The same key with a different request is refused.
///
/// The shared capture runs in its own task; it is cancelled only when every caller waiting on it
/// has gone away. Callers wait on continuations, and one that goes away (its client disconnected,
/// see ``abandon(_:)``) stops waiting at once without a task of its own to cancel.
actor CaptureLedger {
    typealias Outcome = Result<CaptureResponse, CaptureError>

    /// The same key was used for a different request.
    struct Conflict: Error, Sendable {}

    /// Identifies one caller's wait, so that it can be abandoned from outside (a disconnect).
    struct Waiter: Hashable, Sendable {
        fileprivate let id: UInt64

        private static let counter = AtomicCounter()

        init() {
            id = Self.counter.next()
        }
    }

    private struct InFlight {
        let fingerprint: String
        let task: Task<Outcome, Never>
        let token: UInt64
        var waiters: [Waiter: CheckedContinuation<Outcome, Never>] = [:]
    }

    private enum Entry {
        case inFlight(InFlight)
        case completed(fingerprint: String, outcome: Outcome)
        case unresolved(fingerprint: String, lastAttempt: CorrelationID)
    }

    /// Waiters abandoned before they started waiting (the disconnect raced the request).
    private var abandonedEarly: Set<Waiter> = []
    /// Which key each waiter waits on.
    private var waitingOn: [Waiter: String] = [:]

    private var entries: [String: Entry] = [:]
    private var order: Deque<(key: String, storedAt: Duration)> = []
    private var storedAt: [String: Duration] = [:]
    private var nextToken: UInt64 = 0
    private let capacity: Int
    private let retention: Duration
    private let now: @Sendable () -> Duration

    init(capacity: Int, retention: Duration, now: @escaping @Sendable () -> Duration = MonotonicTime.now) {
        self.capacity = max(1, capacity)
        self.retention = retention
        self.now = now
    }

    /// Runs `operation` for `key` unless an equal request already ran or runs.
    ///
    /// - Parameters:
    ///   - fingerprint: what makes two requests "the same" (see ``CaptureFingerprint``).
    ///   - lookUp: finds the final answer of an earlier attempt whose outcome was unknown.
    ///   - operation: performs the capture under a fresh correlation id.
    /// - Returns: the outcome, and whether it was shared with (replayed to) this caller rather
    ///   than produced for it.
    func perform(
        key: String, fingerprint: String, waiter: Waiter = Waiter(),
        lookUp: @Sendable (CorrelationID) async -> CaptureResponse?,
        operation: @escaping @Sendable (CorrelationID) async -> Outcome
    ) async throws(Conflict) -> (outcome: Outcome, replayed: Bool) {
        evictExpired()
        switch entries[key] {
        case .completed(let stored, let outcome):
            guard stored == fingerprint else { throw Conflict() }
            return (outcome, true)
        case .inFlight(let flight):
            guard flight.fingerprint == fingerprint else { throw Conflict() }
            return (await wait(waiter, on: key), true)
        case .unresolved(let stored, let lastAttempt):
            guard stored == fingerprint else { throw Conflict() }
            if let late = await lookUp(lastAttempt), case .unresolved = entries[key] {
                remember(key, .completed(fingerprint: fingerprint, outcome: .success(late)))
                return (.success(late), true)
            }
            // The lookup suspended: another caller may have started a retry meanwhile.
            if case .inFlight = entries[key] {
                return try await perform(key: key, fingerprint: fingerprint, waiter: waiter, lookUp: lookUp, operation: operation)
            }
        case nil:
            break
        }
        nextToken &+= 1
        let token = nextToken
        let task = Task { [weak self] in
            let correlationID = CorrelationID.random()
            let outcome = await operation(correlationID)
            await self?.finish(key, token: token, fingerprint: fingerprint, correlationID: correlationID, outcome: outcome)
            return outcome
        }
        remember(key, .inFlight(InFlight(fingerprint: fingerprint, task: task, token: token)))
        return (await wait(waiter, on: key), false)
    }

    /// Ends `waiter`'s wait at once (its client went away); the last waiter to leave cancels
    /// the shared capture.
    func abandon(_ waiter: Waiter) {
        guard let key = waitingOn[waiter] else {
            abandonedEarly.insert(waiter)
            return
        }
        guard case .inFlight(var flight) = entries[key], let continuation = flight.waiters.removeValue(forKey: waiter) else { return }
        waitingOn[waiter] = nil
        if flight.waiters.isEmpty { flight.task.cancel() }
        entries[key] = .inFlight(flight)
        continuation.resume(returning: .failure(.clientGone(nil)))
    }

    /// Entries held (in flight, completed or unresolved).
    var count: Int { entries.count }

    /// Abandonment markers held for waiters that had not started waiting.
    var abandonedEarlyCount: Int { abandonedEarly.count }

    // MARK: Internals

    private func wait(_ waiter: Waiter, on key: String) async -> Outcome {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                guard !abandonedEarly.contains(waiter), !Task.isCancelled, case .inFlight(var flight) = entries[key] else {
                    abandonedEarly.remove(waiter)
                    continuation.resume(returning: .failure(.clientGone(nil)))
                    return
                }
                flight.waiters[waiter] = continuation
                entries[key] = .inFlight(flight)
                waitingOn[waiter] = key
            }
        } onCancel: {
            Task { await self.abandon(waiter) }
        }
    }

    private func finish(_ key: String, token: UInt64, fingerprint: String, correlationID: CorrelationID, outcome: Outcome) {
        guard case .inFlight(let flight) = entries[key], flight.token == token else { return }
        for (waiter, continuation) in flight.waiters {
            waitingOn[waiter] = nil
            continuation.resume(returning: outcome)
        }
        switch outcome {
        case .success(let response) where response.status.isVerdict:
            remember(key, .completed(fingerprint: fingerprint, outcome: outcome))
        case .success:
            // Expired (never processed) or a processor error: nothing was captured, and a retry
            // may succeed.
            forget(key)
        case .failure(.unavailable), .failure(.overloaded), .failure(.shuttingDown(.none)):
            forget(key)  // certainly not sent
        case .failure(.clientGone(.none)):
            forget(key)  // abandoned before it was sent
        case .failure(.timedOut(let id)), .failure(.shuttingDown(.some(let id))), .failure(.clientGone(.some(let id))),
            .failure(.processorError(let id, _)):
            remember(key, .unresolved(fingerprint: fingerprint, lastAttempt: id))
        }
    }

    private func remember(_ key: String, _ entry: Entry) {
        let time = now()
        entries[key] = entry
        storedAt[key] = time
        order.append((key, time))
        evictOverflow()
    }

    private func forget(_ key: String) {
        entries[key] = nil
        storedAt[key] = nil
    }

    private func evictExpired() {
        let time = now()
        while let oldest = order.first, time - oldest.storedAt > retention {
            order.removeFirst()
            evict(oldest)
        }
    }

    private func evictOverflow() {
        evictExpired()
        var skipped = 0
        while entries.count > capacity, skipped < order.count, let oldest = order.first {
            order.removeFirst()
            if case .inFlight = entries[oldest.key], storedAt[oldest.key] == oldest.storedAt {
                order.append(oldest)  // never forget a capture still running
                skipped += 1
                continue
            }
            evict(oldest)
        }
    }

    private func evict(_ record: (key: String, storedAt: Duration)) {
        // A later `remember` of the same key leaves an older, stale record behind.
        guard storedAt[record.key] == record.storedAt else { return }
        if case .inFlight = entries[record.key] {
            order.append((record.key, now()))  // still running: keep it, look again later
            storedAt[record.key] = order.last?.storedAt
            return
        }
        forget(record.key)
    }
}

/// A process-wide counter for unique ids.
final class AtomicCounter: Sendable {
    private let value = Atomic<UInt64>(0)

    func next() -> UInt64 {
        value.wrappingAdd(1, ordering: .relaxed).newValue
    }
}
