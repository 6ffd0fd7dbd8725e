import Synchronization

/// Matches asynchronous replies to the requests waiting for them.
///
/// Each wait is registered before its request is sent and ends exactly once, with the first of:
/// the reply, the deadline, cancellation of the waiting task (the HTTP client went away), or
/// shutdown. The waiter is a `CheckedContinuation`; the deadline is a `Task` that sleeps on the
/// injected clock and is cancelled as soon as anything else ends the wait. Whatever path ends a
/// wait removes its entry, so ``pendingCount`` always returns to zero.
///
/// A reply that finds no waiter never blocks and never traps: ``complete(_:with:)`` reports it as
/// ``CorrelationDelivery/late`` (its waiter recently gave up) or ``CorrelationDelivery/unmatched``.
public actor CorrelationRegistry<Key: Hashable & Sendable, Reply: Sendable> {
    private enum Waiter {
        /// Registered, request being sent; an outcome that arrives meanwhile is kept here.
        case registered(outcome: Result<Reply, CorrelationFailure>?)
        case waiting(CheckedContinuation<Reply, any Error>)
    }

    private struct Entry {
        let generation: UInt64
        var waiter: Waiter
        let deadline: Task<Void, Never>
    }

    /// Counts of how waits ended and what became of replies, since creation.
    public struct Statistics: Sendable, Hashable {
        public var delivered = 0
        public var timedOut = 0
        public var cancelled = 0
        public var failed = 0
        public var shutDown = 0
        public var late = 0
        public var unmatched = 0
    }

    private let clock: any Clock<Duration>
    private let capacity: Int?
    private var entries: [Key: Entry] = [:]
    private var recentlyAbandoned: RecentKeys<Key>
    private var nextGeneration: UInt64 = 0
    private var isShutDown = false
    private var idleWaiters: [CheckedContinuation<Void, Never>] = []
    private var counters = Statistics()
    private let pendingGauge = Atomic(0)

    /// - Parameters:
    ///   - clock: the clock deadlines sleep on (a manual clock in tests).
    ///   - capacity: the most waits in progress at once; `nil` for no limit.
    ///   - rememberAbandoned: how many given-up keys to remember for telling late replies from
    ///     unmatched ones.
    public init(clock: any Clock<Duration> = ContinuousClock(), capacity: Int? = nil, rememberAbandoned: Int = 10_000) {
        self.clock = clock
        self.capacity = capacity
        self.recentlyAbandoned = RecentKeys(capacity: rememberAbandoned)
    }

    /// Waits in progress, readable without a hop onto the actor (for gauges and health checks).
    public nonisolated var pendingCount: Int { pendingGauge.load(ordering: .relaxed) }

    public var statistics: Statistics { counters }

    /// Whether a wait for `key` is in progress.
    public func isWaiting(for key: Key) -> Bool { entries[key] != nil }

    /// Whether a wait for `key` recently ended without its reply (timed out, cancelled, shut
    /// down): the request was sent and its reply may still come.
    public func recentlyGaveUp(on key: Key) -> Bool { recentlyAbandoned.contains(key) }

    /// Registers a wait for `key`, runs `send` (which produces the request), then waits for the
    /// reply.
    ///
    /// Registering first means a reply that arrives while `send` is still running is kept, not
    /// lost. If `send` throws, the registration is removed and its error is rethrown unchanged.
    ///
    /// - Throws: the error `send` threw, or a ``CorrelationFailure``.
    public func waitForReply(
        to key: Key, timeout: Duration, afterRegistering send: @Sendable () async throws -> Void
    ) async throws -> Reply {
        let generation = try register(key, timeout: timeout)
        do {
            try await send()
        } catch {
            if let entry = removeEntry(key, generation: generation) {
                entry.deadline.cancel()
                if case .registered(.none) = entry.waiter { counters.failed += 1 }
            }
            throw error
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                attach(continuation, to: key, generation: generation)
            }
        } onCancel: {
            Task { await self.end(key, generation: generation, with: .failure(.cancelled)) }
        }
    }

    /// Hands a reply to whoever waits for `key`.
    @discardableResult
    public func complete(_ key: Key, with reply: Reply) -> CorrelationDelivery {
        if let generation = entries[key]?.generation, end(key, generation: generation, with: .success(reply)) {
            return .delivered
        }
        let delivery: CorrelationDelivery = recentlyAbandoned.contains(key) || entries[key] != nil ? .late : .unmatched
        if delivery == .late { counters.late += 1 } else { counters.unmatched += 1 }
        return delivery
    }

    /// Ends the wait for `key` with an error (the processor answered with an error, say).
    /// Returns `false` when nobody waits for `key`.
    @discardableResult
    public func fail(_ key: Key, with failure: CorrelationFailure) -> Bool {
        guard let generation = entries[key]?.generation else { return false }
        return end(key, generation: generation, with: .failure(failure))
    }

    /// Refuses new waits and ends every wait in progress with ``CorrelationFailure/shuttingDown``.
    public func shutdown() {
        isShutDown = true
        for (key, entry) in entries {
            end(key, generation: entry.generation, with: .failure(.shuttingDown))
        }
    }

    /// Refuses new waits from now on, leaving those in progress to finish.
    public func stopAccepting() {
        isShutDown = true
    }

    /// Returns once no wait is in progress.
    public func waitUntilIdle() async {
        guard !entries.isEmpty else { return }
        await withCheckedContinuation { idleWaiters.append($0) }
    }

    // MARK: Internals

    private func register(_ key: Key, timeout: Duration) throws(CorrelationFailure) -> UInt64 {
        guard !isShutDown else { throw .shuttingDown }
        guard !Task.isCancelled else { throw .cancelled }
        guard entries[key] == nil else { throw .duplicateKey }
        if let capacity, entries.count >= capacity { throw .capacityExceeded(limit: capacity) }
        nextGeneration &+= 1
        let generation = nextGeneration
        let clock = self.clock
        let deadline = Task { [weak self] in
            do {
                try await clock.sleep(for: timeout)
            } catch {
                return  // cancelled: the wait ended some other way
            }
            await self?.end(key, generation: generation, with: .failure(.timedOut))
        }
        entries[key] = Entry(generation: generation, waiter: .registered(outcome: nil), deadline: deadline)
        pendingGauge.wrappingAdd(1, ordering: .relaxed)
        return generation
    }

    private func attach(_ continuation: CheckedContinuation<Reply, any Error>, to key: Key, generation: UInt64) {
        guard var entry = entries[key], entry.generation == generation, case .registered(let outcome) = entry.waiter else {
            // Cannot happen: only this wait's own call attaches, once, and entries are removed
            // only together with resuming or outcome delivery below.
            continuation.resume(throwing: CorrelationFailure.failed(reason: "internal: registration lost"))
            return
        }
        if let outcome {
            removeEntry(key, generation: generation)
            continuation.resume(with: outcome.mapError { $0 as any Error })
            return
        }
        if Task.isCancelled {
            // The cancellation handler may have run before the continuation existed.
            removeEntry(key, generation: generation)
            entry.deadline.cancel()
            record(.failure(.cancelled), for: key)
            continuation.resume(throwing: CorrelationFailure.cancelled)
            return
        }
        entry.waiter = .waiting(continuation)
        entries[key] = entry
    }

    /// Ends one specific wait (its generation guards against a later wait reusing the key).
    /// Returns `false` when that wait had already been decided.
    @discardableResult
    private func end(_ key: Key, generation: UInt64, with outcome: Result<Reply, CorrelationFailure>) -> Bool {
        guard var entry = entries[key], entry.generation == generation else { return false }
        switch entry.waiter {
        case .registered(.some):
            return false  // already decided; the sender collects that outcome
        case .registered(.none):
            // The request is still being sent: keep the outcome for the waiter to collect.
            entry.waiter = .registered(outcome: outcome)
            entries[key] = entry
            entry.deadline.cancel()
            record(outcome, for: key)
        case .waiting(let continuation):
            removeEntry(key, generation: generation)
            entry.deadline.cancel()
            record(outcome, for: key)
            continuation.resume(with: outcome.mapError { $0 as any Error })
        }
        return true
    }

    private func record(_ outcome: Result<Reply, CorrelationFailure>, for key: Key) {
        switch outcome {
        case .success: counters.delivered += 1
        case .failure(let failure):
            switch failure {
            case .timedOut: counters.timedOut += 1
            case .cancelled: counters.cancelled += 1
            case .shuttingDown: counters.shutDown += 1
            case .failed, .duplicateKey, .capacityExceeded: counters.failed += 1
            }
            recentlyAbandoned.insert(key)
        }
    }

    @discardableResult
    private func removeEntry(_ key: Key, generation: UInt64) -> Entry? {
        guard let entry = entries[key], entry.generation == generation else { return nil }
        entries[key] = nil
        pendingGauge.wrappingSubtract(1, ordering: .relaxed)
        if entries.isEmpty, !idleWaiters.isEmpty {
            let waiters = idleWaiters
            idleWaiters.removeAll()
            waiters.forEach { $0.resume() }
        }
        return entry
    }
}
