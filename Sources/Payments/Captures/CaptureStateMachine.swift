import HeapModule

/// Everything a replica knows about its captures, and what each event does to them.
///
/// A pure value: no continuations, tasks or clocks. The ``CorrelationRegistry`` actor owns one,
/// calls its mutating methods (each a synchronous state transition) and acts on what they
/// return: which request to send, which waiters to resume with what. Tests drive it directly,
/// with times of their choosing.
///
/// A capture is named by its idempotency key and lives in one of three places:
/// - **in flight**: its request was handed over for sending under an *attempt* (a correlation
///   id) and its waiters wait for the answer or the deadline;
/// - **finished**, as *answered* (a verdict to replay for the retention) or *unresolved* (it
///   timed out or was given up on: its request may have been processed, and a late answer to
///   any of its attempts completes it);
/// - nowhere, once its request was certainly not sent, or nothing was captured (`expired`, a
///   processor `error`): a retry is then new.
///
/// Every answer that arrives is also kept by correlation id (bounded) for outcome lookups, and
/// every attempt still in flight or unresolved maps back to its capture, so that a late answer
/// finds it.
struct CaptureStateMachine<Waiter> {
    /// The bounds a replica enforces.
    struct Limits: Sendable, Hashable {
        /// How long an attempt waits for its answer.
        var timeout: Duration
        /// Captures in flight at once.
        var maxPending: Int
        /// Finished captures remembered for replay, and for how long.
        var idempotencyCapacity: Int
        var idempotencyRetention: Duration
        /// Answers kept for lookups by correlation id, and for how long.
        var outcomeCapacity: Int
        var outcomeRetention: Duration
    }

    /// What ``begin(key:fingerprint:attempt:waiter:now:)`` decided.
    enum Begin {
        /// A new attempt: send its request now (until `deadline`). The waiter waits for it.
        case send(deadline: Duration)
        /// The capture is in flight: the waiter waits for it too.
        case joined(CorrelationID)
        /// The capture has a verdict: answer with it.
        case replay(CaptureResponse)
        /// The key was used for a different request.
        case conflict
        /// Not accepted (overloaded, shutting down); nothing was registered.
        case refused(CaptureError)
    }

    private struct WaitingRequest {
        let id: UInt64
        let waiter: Waiter
        /// Joined a capture another request started.
        let joined: Bool
    }

    private struct InFlight {
        let fingerprint: String
        let attempt: CorrelationID
        let deadline: Duration
        /// Attempts of the same capture that timed out before this one was sent: a late
        /// verdict for any of them completes the capture too.
        var earlierAttempts: [CorrelationID]
        var waiters: [WaitingRequest]
    }

    private enum Finished {
        case answered(fingerprint: String, CaptureResponse)
        case unresolved(fingerprint: String, attempts: [CorrelationID])

        var fingerprint: String {
            switch self {
            case .answered(let fingerprint, _), .unresolved(let fingerprint, _): fingerprint
            }
        }
    }

    private struct Deadline: Comparable {
        let at: Duration
        let key: String
        let attempt: CorrelationID

        static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at < rhs.at }
        static func == (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at == rhs.at && lhs.attempt == rhs.attempt }
    }

    let limits: Limits
    private var inFlight: [String: InFlight] = [:]
    private var finished: ExpiringMap<String, Finished>
    /// Attempts in flight or unresolved, to the key of their capture.
    private var attempts: [CorrelationID: String] = [:]
    private var outcomes: ExpiringMap<CorrelationID, CaptureResponse>
    /// One entry per attempt sent; entries of attempts that ended are dropped when they reach
    /// the top.
    private var deadlines = Heap<Deadline>()
    private var isShutDown = false
    /// Requests waiting, across all captures in flight.
    private(set) var waitingCount = 0

    init(limits: Limits) {
        self.limits = limits
        finished = ExpiringMap(capacity: limits.idempotencyCapacity, maximumAge: limits.idempotencyRetention)
        outcomes = ExpiringMap(capacity: limits.outcomeCapacity, maximumAge: limits.outcomeRetention)
    }

    /// Captures in flight.
    var pendingCount: Int { inFlight.count }

    /// Finished captures remembered (answered or unresolved).
    var finishedCount: Int { finished.count }

    /// The earliest deadline of an attempt still in flight.
    var nextDeadline: Duration? {
        mutating get {
            dropEndedDeadlines()
            return deadlines.min?.at
        }
    }

    // MARK: Events

    /// A request for the capture named `key`. `attempt` is the correlation id a new attempt
    /// would use; `waiterID` names this request for ``abandon(waiterID:key:)``.
    mutating func begin(key: String, fingerprint: String, attempt: CorrelationID, waiterID: UInt64, waiter: Waiter, now: Duration) -> Begin {
        if var flight = inFlight[key] {
            guard flight.fingerprint == fingerprint else { return .conflict }
            flight.waiters.append(WaitingRequest(id: waiterID, waiter: waiter, joined: true))
            inFlight[key] = flight
            waitingCount += 1
            return .joined(flight.attempt)
        }
        forgetAttempts(of: finished.evict(now: now))
        var earlierAttempts: [CorrelationID] = []
        switch finished[key] {
        case .answered(let stored, let response):
            return stored == fingerprint ? .replay(response) : .conflict
        case .unresolved(let stored, let attempts):
            guard stored == fingerprint else { return .conflict }
            earlierAttempts = attempts
        case nil:
            break
        }
        if isShutDown { return .refused(.shuttingDown(nil)) }
        guard inFlight.count < limits.maxPending else { return .refused(.overloaded(limit: limits.maxPending)) }
        if !earlierAttempts.isEmpty { finished.removeValue(forKey: key) }
        let deadline = now + limits.timeout
        inFlight[key] = InFlight(
            fingerprint: fingerprint, attempt: attempt, deadline: deadline, earlierAttempts: earlierAttempts,
            waiters: [WaitingRequest(id: waiterID, waiter: waiter, joined: false)])
        attempts[attempt] = key
        deadlines.insert(Deadline(at: deadline, key: key, attempt: attempt))
        waitingCount += 1
        return .send(deadline: deadline)
    }

    /// The request of `attempt` was certainly not sent: its waiters fail with `error` (say
    /// ``CaptureError/unavailable(reason:)``) and the capture is forgotten (or, when earlier
    /// attempts may have been processed, unresolved again).
    mutating func sendFailed(_ attempt: CorrelationID, error: CaptureError, now: Duration) -> [(Waiter, CaptureAnswer)] {
        guard let key = attempts[attempt], let flight = inFlight[key], flight.attempt == attempt else { return [] }
        end(flight, key: key)
        settle(key, fingerprint: flight.fingerprint, unresolved: flight.earlierAttempts, now: now)
        return failed(flight.waiters, with: error)
    }

    /// An answer from the processor. Returns what became of it and the waiters to resume.
    mutating func deliver(_ reply: CaptureReply, now: Duration) -> (ReplyDelivery, [(Waiter, CaptureAnswer)]) {
        let id = reply.correlationID
        if case .response(let response) = reply {
            outcomes.insert(response, for: id, now: now)
        }
        guard let key = attempts[id] else { return (.unmatched, []) }
        if var flight = inFlight[key] {
            let isCurrent = flight.attempt == id
            switch reply {
            case .response(let response) where response.status.isVerdict:
                // A verdict for any attempt of the capture is its verdict.
                end(flight, key: key)
                remember(.answered(fingerprint: flight.fingerprint, response), for: key, now: now)
                return (.delivered, answered(flight.waiters, with: response))
            case .response(let response) where isCurrent:
                // Not processed (`expired`) or failed (`error`): nothing was captured by this
                // attempt. With no earlier attempt, nothing was captured at all.
                end(flight, key: key)
                settle(key, fingerprint: flight.fingerprint, unresolved: flight.earlierAttempts, now: now)
                guard let earlier = flight.earlierAttempts.first else { return (.delivered, answered(flight.waiters, with: response)) }
                // An earlier attempt may still have been processed: the outcome is unknown.
                return (.delivered, failed(flight.waiters, with: .timedOut(earlier)))
            case .unreadable(_, let reason) where isCurrent:
                end(flight, key: key)
                settle(key, fingerprint: flight.fingerprint, unresolved: flight.earlierAttempts + [id], now: now)
                return (.delivered, failed(flight.waiters, with: .processorError(id, reason: reason)))
            case .response, .unreadable:
                // A non-verdict for an earlier attempt: that attempt captured nothing.
                flight.earlierAttempts.removeAll { $0 == id }
                inFlight[key] = flight
                attempts[id] = nil
                return (.late, [])
            }
        }
        guard case .unresolved(let fingerprint, var unresolved) = finished[key] else {
            attempts[id] = nil
            return (.unmatched, [])
        }
        // A late answer to a capture nobody waits for any more.
        switch reply {
        case .response(let response) where response.status.isVerdict:
            unresolved.forEach { attempts[$0] = nil }
            remember(.answered(fingerprint: fingerprint, response), for: key, now: now)
        case .response, .unreadable:
            unresolved.removeAll { $0 == id }
            attempts[id] = nil
            if unresolved.isEmpty {
                finished.removeValue(forKey: key)
            } else {
                finished.update(key) { $0 = .unresolved(fingerprint: fingerprint, attempts: unresolved) }
            }
        }
        return (.late, [])
    }

    /// Ends every attempt whose deadline has come: its waiters get
    /// ``CaptureError/timedOut(_:)`` and the capture is unresolved.
    mutating func expire(now: Duration) -> [(Waiter, CaptureAnswer)] {
        var resumed: [(Waiter, CaptureAnswer)] = []
        while let top = deadlines.min, top.at <= now {
            deadlines.removeMin()
            guard let flight = inFlight[top.key], flight.attempt == top.attempt else { continue }
            end(flight, key: top.key, keepingAttempts: true)
            remember(
                .unresolved(fingerprint: flight.fingerprint, attempts: flight.earlierAttempts + [flight.attempt]), for: top.key, now: now)
            resumed += failed(flight.waiters, with: .timedOut(flight.attempt))
        }
        return resumed
    }

    /// Ends one request's wait (its client went away); the capture goes on for its other
    /// waiters and for retries. `nil` when that request no longer waits.
    mutating func abandon(waiterID: UInt64, key: String) -> (Waiter, CaptureAnswer)? {
        guard var flight = inFlight[key], let index = flight.waiters.firstIndex(where: { $0.id == waiterID }) else { return nil }
        let request = flight.waiters.remove(at: index)
        inFlight[key] = flight
        waitingCount -= 1
        return (request.waiter, .failed(.clientGone(flight.attempt), replayed: request.joined))
    }

    /// Refuses new captures and ends every wait with ``CaptureError/shuttingDown(_:)``; the
    /// captures in flight become unresolved.
    mutating func shutdown(now: Duration) -> [(Waiter, CaptureAnswer)] {
        isShutDown = true
        var resumed: [(Waiter, CaptureAnswer)] = []
        for (key, flight) in inFlight {
            end(flight, key: key, keepingAttempts: true)
            remember(
                .unresolved(fingerprint: flight.fingerprint, attempts: flight.earlierAttempts + [flight.attempt]), for: key, now: now)
            resumed += failed(flight.waiters, with: .shuttingDown(flight.attempt))
        }
        return resumed
    }

    /// What is known of the capture `id` names.
    mutating func lookUp(_ id: CorrelationID, now: Duration) -> PaymentLookup {
        outcomes.evict(now: now)
        if let response = outcomes[id] { return .final(response) }
        return attempts[id] != nil ? .pending : .unknown
    }

    // MARK: Internals

    /// Takes a capture out of flight. Its attempts stop mapping to it unless it stays
    /// unresolved.
    private mutating func end(_ flight: InFlight, key: String, keepingAttempts: Bool = false) {
        inFlight[key] = nil
        waitingCount -= flight.waiters.count
        if !keepingAttempts {
            attempts[flight.attempt] = nil
            flight.earlierAttempts.forEach { attempts[$0] = nil }
        }
        dropEndedDeadlines()
    }

    /// After an attempt ended without a verdict: the capture is unresolved while attempts that
    /// may have been processed remain, else forgotten.
    private mutating func settle(_ key: String, fingerprint: String, unresolved: [CorrelationID], now: Duration) {
        guard !unresolved.isEmpty else { return }
        unresolved.forEach { attempts[$0] = key }
        remember(.unresolved(fingerprint: fingerprint, attempts: unresolved), for: key, now: now)
    }

    /// Keeps a finished capture, forgetting the attempts of those it evicts.
    private mutating func remember(_ capture: Finished, for key: String, now: Duration) {
        forgetAttempts(of: finished.insert(capture, for: key, now: now))
    }

    private mutating func forgetAttempts(of evicted: [(key: String, value: Finished)]) {
        for (key, capture) in evicted {
            guard case .unresolved(_, let unresolved) = capture else { continue }
            unresolved.forEach { if attempts[$0] == key { attempts[$0] = nil } }
        }
    }

    /// Drops deadline entries of attempts that already ended, from the top: the next deadline
    /// is then a live one, and entries do not outlive the oldest capture in flight for long.
    private mutating func dropEndedDeadlines() {
        while let top = deadlines.min, inFlight[top.key]?.attempt != top.attempt {
            deadlines.removeMin()
        }
    }

    private func answered(_ waiters: [WaitingRequest], with response: CaptureResponse) -> [(Waiter, CaptureAnswer)] {
        waiters.map { ($0.waiter, .answered(response, replayed: $0.joined)) }
    }

    private func failed(_ waiters: [WaitingRequest], with error: CaptureError) -> [(Waiter, CaptureAnswer)] {
        waiters.map { ($0.waiter, .failed(error, replayed: $0.joined)) }
    }
}
