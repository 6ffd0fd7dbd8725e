import HeapModule

/// Everything a replica knows about captures, and what each event does to them.
///
/// A pure value: no continuations, tasks or clocks. The ``CorrelationRegistry`` actor owns one,
/// calls its mutating methods (each a synchronous state transition) and acts on what they
/// return: which request to send, which waiters to resume with what. Tests drive it directly,
/// with times of their choosing.
///
/// A replica learns of captures three ways: its own requests, the request records every replica
/// produces (``observe(_:age:now:)``: read back from the request topic, so another replica's
/// capture is known here too) and the replies (``deliver(_:now:)``). A capture is named by its
/// idempotency key and lives in one of three places:
/// - **in flight**: this replica's requests wait for the answer of its current *attempt* (a
///   correlation id), which this or another replica sent, until the deadline;
/// - **finished**, as *answered* (a verdict to replay), *unresolved* (attempts were sent and no
///   verdict is known: a retry waits for it and sends nothing) or *voided* (its last attempt
///   captured nothing, `expired` or `error`: a retry sends a new attempt);
/// - nowhere: never seen, or its only attempt was certainly not sent.
///
/// A capture sends a new request only when nothing it sent can still capture the payment. The
/// attempt's correlation id is derived from the key, the fingerprint and the attempt before it
/// (``CorrelationID/attempt(key:fingerprint:after:)``), so replicas that know the same send the
/// same id.
struct CaptureStateMachine<Waiter> {
    /// The bounds a replica enforces.
    struct Limits: Sendable, Hashable {
        /// How long a request waits for its capture's answer.
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

    /// What ``begin(key:fingerprint:waiterID:waiter:now:)`` decided.
    enum Begin {
        /// A new attempt: send its request now, under this id, until `deadline`. The waiter waits
        /// for it.
        case send(CorrelationID, deadline: Duration)
        /// A request was sent before (here or by another replica) and has no answer yet: the
        /// waiter waits for it until `deadline`; nothing is sent.
        case awaiting(CorrelationID, deadline: Duration)
        /// The capture is in flight here: the waiter waits for it too.
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
        /// Did not send the request it waits for (joined one in flight, or awaits an earlier one).
        let joined: Bool
    }

    private struct InFlight {
        /// Names this wait in the deadline heap.
        let serial: UInt64
        let fingerprint: String
        /// The attempt whose answer the waiters wait for.
        var attempt: CorrelationID
        /// Other attempts of the capture that may have been processed (another replica sent one
        /// under another id): a verdict for any of them is the capture's.
        var others: [CorrelationID]
        /// The voided attempt that `attempt` follows; the capture returns to it when `attempt`
        /// is certainly not sent.
        let previous: CorrelationID?
        let deadline: Duration
        var waiters: [WaitingRequest]

        var allAttempts: [CorrelationID] { others + [attempt] }
    }

    private enum Finished {
        case answered(fingerprint: String, CaptureResponse)
        case unresolved(fingerprint: String, attempts: [CorrelationID])
        case voided(fingerprint: String, last: CorrelationID)
    }

    private struct Deadline: Comparable {
        let at: Duration
        let key: String
        let serial: UInt64

        static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at < rhs.at }
        static func == (lhs: Deadline, rhs: Deadline) -> Bool { lhs.at == rhs.at && lhs.serial == rhs.serial }
    }

    let limits: Limits
    private var inFlight: [String: InFlight] = [:]
    private var finished: ExpiringMap<String, Finished>
    /// Attempts that may still capture (in flight or unresolved), to the key of their capture.
    private var attempts: [CorrelationID: String] = [:]
    private var outcomes: ExpiringMap<CorrelationID, CaptureResponse>
    /// One entry per wait begun; entries of waits that ended are dropped when they reach the top.
    private var deadlines = Heap<Deadline>()
    private var nextSerial: UInt64 = 0
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

    /// Finished captures remembered (answered, unresolved or voided).
    var finishedCount: Int { finished.count }

    /// The earliest deadline of a wait still in progress.
    var nextDeadline: Duration? {
        mutating get {
            dropEndedDeadlines()
            return deadlines.min?.at
        }
    }

    // MARK: Events

    /// A request for the capture named `key`; `waiterID` names it for ``abandon(waiterID:key:)``.
    mutating func begin(key: String, fingerprint: String, waiterID: UInt64, waiter: Waiter, now: Duration) -> Begin {
        if var flight = inFlight[key] {
            guard flight.fingerprint == fingerprint else { return .conflict }
            flight.waiters.append(WaitingRequest(id: waiterID, waiter: waiter, joined: true))
            inFlight[key] = flight
            waitingCount += 1
            return .joined(flight.attempt)
        }
        forgetAttempts(of: finished.evict(now: now))
        var sent: [CorrelationID] = []
        var previous: CorrelationID?
        switch finished[key] {
        case .answered(let stored, let response):
            return stored == fingerprint ? .replay(response) : .conflict
        case .unresolved(let stored, let unresolved):
            guard stored == fingerprint else { return .conflict }
            sent = unresolved
        case .voided(let stored, let last):
            guard stored == fingerprint else { return .conflict }
            previous = last
        case nil:
            break
        }
        if isShutDown { return .refused(.shuttingDown(nil)) }
        guard inFlight.count < limits.maxPending else { return .refused(.overloaded(limit: limits.maxPending)) }
        let isNew = sent.isEmpty
        let attempt = sent.last ?? CorrelationID.attempt(key: key, fingerprint: fingerprint, after: previous)
        if !isNew || previous != nil { finished.removeValue(forKey: key) }
        let deadline = now + limits.timeout
        nextSerial += 1
        inFlight[key] = InFlight(
            serial: nextSerial, fingerprint: fingerprint, attempt: attempt, others: Array(sent.dropLast()), previous: previous,
            deadline: deadline, waiters: [WaitingRequest(id: waiterID, waiter: waiter, joined: !isNew)])
        attempts[attempt] = key
        deadlines.insert(Deadline(at: deadline, key: key, serial: nextSerial))
        waitingCount += 1
        return isNew ? .send(attempt, deadline: deadline) : .awaiting(attempt, deadline: deadline)
    }

    /// A request record read from the request topic, `age` after it was produced: this
    /// replica's own, or another's. From then on a retry here waits for its answer instead of
    /// sending, and its answer completes it. Returns the waiters its answer resumes, when that
    /// was read first (the two topics are read independently).
    mutating func observe(_ request: ObservedRequest, age: Duration, now: Duration) -> [(Waiter, CaptureAnswer)] {
        guard age <= limits.idempotencyRetention else { return [] }
        let key = request.key, id = request.correlationID
        if var flight = inFlight[key] {
            if !flight.allAttempts.contains(id) {  // else this replica's own, or known already
                flight.others.append(id)
                inFlight[key] = flight
                attempts[id] = key
            }
        } else {
            switch finished[key] {
            case .answered:
                return []
            case .unresolved(let fingerprint, var unresolved):
                guard !unresolved.contains(id) else { break }
                unresolved.append(id)
                attempts[id] = key
                finished.update(key) { $0 = .unresolved(fingerprint: fingerprint, attempts: unresolved) }
            case .voided(_, let last) where last == id:
                return []
            case .voided, nil:
                attempts[id] = key
                remember(.unresolved(fingerprint: request.fingerprint, attempts: [id]), for: key, now: now - age)
            }
        }
        guard let outcome = outcomes[id] else { return [] }
        return deliver(.response(outcome), now: now).1
    }

    /// The request of `attempt` was certainly not sent: its waiters fail with `error` (say
    /// ``CaptureError/unavailable(reason:)``) and the capture returns to what it was before.
    mutating func sendFailed(_ attempt: CorrelationID, error: CaptureError, now: Duration) -> [(Waiter, CaptureAnswer)] {
        guard let key = attempts[attempt], let flight = inFlight[key], flight.attempt == attempt else { return [] }
        end(flight, key: key)
        if let previous = flight.previous {
            remember(.voided(fingerprint: flight.fingerprint, last: previous), for: key, now: now)
        }
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
            switch reply {
            case .response(let response) where response.status.isVerdict:
                // A verdict for any attempt of the capture is its verdict.
                end(flight, key: key)
                remember(.answered(fingerprint: flight.fingerprint, response), for: key, now: now)
                return (.delivered, answered(flight.waiters, with: response))
            case .response(let response) where flight.attempt == id:
                // Not processed (`expired`) or failed (`error`): this attempt captured nothing.
                guard let other = flight.others.popLast() else {
                    end(flight, key: key)
                    remember(.voided(fingerprint: flight.fingerprint, last: id), for: key, now: now)
                    return (.delivered, answered(flight.waiters, with: response))
                }
                // Another replica's attempt may still capture: wait for that one.
                attempts[id] = nil
                flight.attempt = other
                inFlight[key] = flight
                return (.late, [])
            case .unreadable(_, let reason) where flight.attempt == id:
                end(flight, key: key, keepingAttempts: true)
                remember(.unresolved(fingerprint: flight.fingerprint, attempts: flight.allAttempts), for: key, now: now)
                return (.delivered, failed(flight.waiters, with: .processorError(id, reason: reason)))
            case .response, .unreadable:
                // A non-verdict for another attempt: that attempt captured nothing.
                flight.others.removeAll { $0 == id }
                inFlight[key] = flight
                attempts[id] = nil
                return (.late, [])
            }
        }
        guard case .unresolved(let fingerprint, var unresolved) = finished[key] else {
            attempts[id] = nil
            return (.unmatched, [])
        }
        // An answer to a capture nobody here waits for (any more).
        switch reply {
        case .response(let response) where response.status.isVerdict:
            unresolved.forEach { attempts[$0] = nil }
            remember(.answered(fingerprint: fingerprint, response), for: key, now: now)
        case .response, .unreadable:
            unresolved.removeAll { $0 == id }
            attempts[id] = nil
            if unresolved.isEmpty {
                remember(.voided(fingerprint: fingerprint, last: id), for: key, now: now)
            } else {
                finished.update(key) { $0 = .unresolved(fingerprint: fingerprint, attempts: unresolved) }
            }
        }
        return (.late, [])
    }

    /// Ends every wait whose deadline has come: its waiters get ``CaptureError/timedOut(_:)``
    /// and the capture is unresolved (its answer may still come).
    mutating func expire(now: Duration) -> [(Waiter, CaptureAnswer)] {
        var resumed: [(Waiter, CaptureAnswer)] = []
        while let top = deadlines.min, top.at <= now {
            deadlines.removeMin()
            guard let flight = inFlight[top.key], flight.serial == top.serial else { continue }
            end(flight, key: top.key, keepingAttempts: true)
            remember(.unresolved(fingerprint: flight.fingerprint, attempts: flight.allAttempts), for: top.key, now: now)
            resumed += failed(flight.waiters, with: .timedOut(flight.attempt))
        }
        return resumed
    }

    /// Ends one request's wait (its client went away, or it asked not to wait); the capture goes
    /// on for its other waiters and for retries. `nil` when that request no longer waits.
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
            remember(.unresolved(fingerprint: flight.fingerprint, attempts: flight.allAttempts), for: key, now: now)
            resumed += failed(flight.waiters, with: .shuttingDown(flight.attempt))
        }
        return resumed
    }

    /// What is known of the attempt `id` names.
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
            flight.allAttempts.forEach { attempts[$0] = nil }
        }
        dropEndedDeadlines()
    }

    /// Keeps a finished capture, forgetting the attempts of those it evicts.
    private mutating func remember(_ capture: Finished, for key: String, now: Duration) {
        forgetAttempts(of: finished.insert(capture, for: key, now: now))
    }

    private mutating func forgetAttempts(of evicted: [(key: String, value: Finished)]) {
        for (key, capture) in evicted {
            guard case .unresolved(_, let unresolved) = capture, inFlight[key] == nil else { continue }
            unresolved.forEach { if attempts[$0] == key { attempts[$0] = nil } }
        }
    }

    /// Drops deadline entries of waits that already ended, from the top: the next deadline is
    /// then a live one, and entries do not outlive the oldest capture in flight for long.
    private mutating func dropEndedDeadlines() {
        while let top = deadlines.min, inFlight[top.key]?.serial != top.serial {
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
