import DequeModule
import Payments

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
/// has gone away.
actor CaptureLedger {
    typealias Outcome = Result<CaptureResponse, CaptureError>

    /// The same key was used for a different request.
    struct Conflict: Error, Sendable {}

    private enum Entry {
        case inFlight(fingerprint: String, task: Task<Outcome, Never>, waiters: Int, token: UInt64)
        case completed(fingerprint: String, outcome: Outcome)
        case unresolved(fingerprint: String, lastAttempt: CorrelationID)
    }

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
        key: String, fingerprint: String,
        lookUp: @Sendable (CorrelationID) async -> CaptureResponse?,
        operation: @escaping @Sendable (CorrelationID) async -> Outcome
    ) async throws(Conflict) -> (outcome: Outcome, replayed: Bool) {
        evictExpired()
        switch entries[key] {
        case .completed(let stored, let outcome):
            guard stored == fingerprint else { throw Conflict() }
            return (outcome, true)
        case .inFlight(let stored, let task, let waiters, let token):
            guard stored == fingerprint else { throw Conflict() }
            entries[key] = .inFlight(fingerprint: stored, task: task, waiters: waiters + 1, token: token)
            return (await wait(for: task, key: key, token: token), true)
        case .unresolved(let stored, let lastAttempt):
            guard stored == fingerprint else { throw Conflict() }
            if let late = await lookUp(lastAttempt), case .unresolved = entries[key] {
                remember(key, .completed(fingerprint: fingerprint, outcome: .success(late)))
                return (.success(late), true)
            }
            // The lookup suspended: another caller may have started a retry meanwhile.
            if case .inFlight = entries[key] {
                return try await perform(key: key, fingerprint: fingerprint, lookUp: lookUp, operation: operation)
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
        remember(key, .inFlight(fingerprint: fingerprint, task: task, waiters: 1, token: token))
        return (await wait(for: task, key: key, token: token), false)
    }

    /// Entries held (in flight, completed or unresolved).
    var count: Int { entries.count }

    // MARK: Internals

    private func wait(for task: Task<Outcome, Never>, key: String, token: UInt64) async -> Outcome {
        await withTaskCancellationHandler {
            await task.value
        } onCancel: {
            Task { await self.leave(key, token: token) }
        }
    }

    /// A caller stopped waiting; the last one to leave cancels the shared capture.
    private func leave(_ key: String, token: UInt64) {
        guard case .inFlight(let fingerprint, let task, let waiters, let current) = entries[key], current == token else { return }
        if waiters <= 1 {
            task.cancel()
        }
        entries[key] = .inFlight(fingerprint: fingerprint, task: task, waiters: max(0, waiters - 1), token: token)
    }

    private func finish(_ key: String, token: UInt64, fingerprint: String, correlationID: CorrelationID, outcome: Outcome) {
        guard case .inFlight(_, _, _, let current) = entries[key], current == token else { return }
        switch outcome {
        case .success(let response) where response.status.isVerdict:
            remember(key, .completed(fingerprint: fingerprint, outcome: outcome))
        case .success:
            // Expired (never processed) or a processor error: nothing was captured, and a retry
            // may succeed.
            forget(key)
        case .failure(.unavailable), .failure(.overloaded), .failure(.shuttingDown(.none)):
            forget(key)  // certainly not sent
        case .failure(.timedOut(let id)), .failure(.shuttingDown(.some(let id))), .failure(.clientGone(let id)),
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
