import Synchronization

/// Matches the processor's asynchronous answers to the HTTP requests waiting for them, and
/// remembers captures by idempotency key so that a retried or duplicated capture never becomes a
/// second request.
///
/// The actor is the one lock of the capture path. Its methods are synchronous transitions of a
/// ``CaptureStateMachine`` plus what they call for: each waiting request's `CheckedContinuation`
/// (held in its ``CaptureWaiter``) is resumed exactly once, by the actor; a request is handed to
/// the ``CaptureTransport`` from inside the transition that decided to send it, so no answer
/// can arrive before its waiter is registered. Deadlines are served by one `Task`, which sleeps
/// until the earliest one; it is replaced only when an earlier deadline appears.
///
/// Requests reach the actor through an inbox that ``run()`` drains a batch at a time, and answers
/// arrive in batches (``deliver(_:)``): one hop onto the actor per batch each way, and one
/// continuation per request. The request waits on its waiter, off the actor, so that the async
/// frames a pending capture holds are few.
public actor CorrelationRegistry {
    /// How long captures wait, how many may, and how long what is learned is kept.
    public struct Configuration: Sendable, Hashable {
        /// How long an attempt waits for its answer before its waiters get a timeout.
        public var timeout: Duration
        /// Captures in flight at once; beyond it, new ones are refused as overloaded.
        public var maxPending: Int
        /// Finished captures remembered by idempotency key (for replays), and for how long.
        public var idempotencyCapacity: Int
        public var idempotencyRetention: Duration
        /// Answers kept by correlation id (for outcome lookups), and for how long.
        public var outcomeCapacity: Int
        public var outcomeRetention: Duration

        public init(
            timeout: Duration = .seconds(30), maxPending: Int = 50_000, idempotencyCapacity: Int = 100_000,
            idempotencyRetention: Duration = .seconds(24 * 3_600), outcomeCapacity: Int = 100_000, outcomeRetention: Duration = .seconds(24 * 3_600)
        ) {
            self.timeout = timeout
            self.maxPending = maxPending
            self.idempotencyCapacity = idempotencyCapacity
            self.idempotencyRetention = idempotencyRetention
            self.outcomeCapacity = outcomeCapacity
            self.outcomeRetention = outcomeRetention
        }
    }

    private typealias Machine = CaptureStateMachine<CaptureWaiter>

    private var machine: Machine
    private let inbox = SubmissionInbox()
    private let transport: any CaptureTransport
    private let clock: any DeadlineClock
    private var deadlineTimer: (task: Task<Void, Never>, at: Duration)?
    /// Outcome lookups waiting for an answer (``lookUp(_:waitingUpTo:)``), by correlation id.
    private var outcomeWatchers: [CorrelationID: [CaptureWaiter]] = [:]
    private let pending = Atomic(0)
    private let waiting = Atomic(0)
    private let finishedCount = Atomic(0)

    public init(configuration: Configuration, transport: any CaptureTransport, clock: any DeadlineClock = SystemDeadlineClock()) {
        machine = Machine(
            limits: .init(
                timeout: configuration.timeout, maxPending: configuration.maxPending, idempotencyCapacity: configuration.idempotencyCapacity,
                idempotencyRetention: configuration.idempotencyRetention, outcomeCapacity: configuration.outcomeCapacity,
                outcomeRetention: configuration.outcomeRetention))
        self.transport = transport
        self.clock = clock
    }

    /// Captures in flight, readable without a hop onto the actor (gauges, health).
    public nonisolated var pendingCount: Int { pending.load(ordering: .relaxed) }

    /// HTTP requests waiting for an answer now (several may wait for one capture).
    public nonisolated var waitingRequestCount: Int { waiting.load(ordering: .relaxed) }

    /// Finished captures remembered for replay, as of the last change.
    public nonisolated var rememberedCount: Int { finishedCount.load(ordering: .relaxed) }

    /// Runs one capture request: replays the verdict of an earlier request with the same key,
    /// joins the one in flight, refuses a different request under the same key, or sends a new
    /// attempt and waits for its answer or its deadline.
    ///
    /// - Parameter waiter: this request's wait, which ``abandon(_:key:)`` ends when its client
    ///   leaves.
    /// Cancelling the calling task abandons the wait.
    public nonisolated func capture(_ capture: CaptureSubmission, waiter: CaptureWaiter) async -> CaptureAnswer {
        guard enqueue(capture, waiter: waiter) else { return .failed(.shuttingDown(nil), replayed: false) }
        return await withTaskCancellationHandler {
            await waiter.answer()
        } onCancel: {
            if waiter.abandon() {
                Task { await self.abandon(waiter, key: capture.key) }
            }
        }
    }

    /// ``capture(_:waiter:)`` in two steps, for callers that keep their own frames few: leaves
    /// the request for the registry (false once it shut down), after which its answer comes to
    /// `waiter` (``CaptureWaiter/answer()``).
    public nonisolated func enqueue(_ capture: CaptureSubmission, waiter: CaptureWaiter) -> Bool {
        inbox.push((capture, waiter))
    }

    /// Takes capture requests from the inbox and registers them, a batch per hop onto the actor,
    /// until ``shutdown()``. The registry answers no capture unless this runs.
    public func run() async {
        while let batch = await inbox.nextBatch() {
            for (capture, waiter) in batch {
                submit(capture, waiter: waiter)
            }
        }
    }

    /// Registers (and, for a new attempt, sends) one capture request; its answer goes to
    /// `waiter` (``CaptureWaiter/answer()``), at once for a replay or a refusal.
    func submit(_ capture: CaptureSubmission, waiter: CaptureWaiter) {
        guard !waiter.isAbandoned else {
            waiter.resume(.failed(.clientGone(nil), replayed: false))
            return
        }
        let now = clock.now()
        let attempt: CorrelationID
        let replayed: Bool
        switch machine.begin(key: capture.key, fingerprint: capture.fingerprint, waiterID: waiter.id, waiter: waiter, now: now) {
        case .send(let id, let deadline):
            do throws(CaptureError) {
                let wallDeadline = WallClock.nowMilliseconds() + machine.limits.timeout.wholeMilliseconds
                try transport.send(capture, attempt: id, deadline: wallDeadline, othersInProgress: machine.pendingCount - 1) { [weak self] failure in
                    guard failure.certainlyNotSent else { return }  // it may be in the topic: its answer may come
                    Task { await self?.sendFailed(id, error: .unavailable(reason: failure.reason)) }
                }
                armDeadlineTimer(for: deadline)
            } catch {
                resume(machine.sendFailed(id, error: error, now: now))
                publishCounts()
                return
            }
            (attempt, replayed) = (id, false)
        case .awaiting(let id, let deadline):
            armDeadlineTimer(for: deadline)
            (attempt, replayed) = (id, true)
        case .joined(let id):
            (attempt, replayed) = (id, true)
        case .replay(let response):
            waiter.resume(.answered(response, replayed: true))
            return
        case .conflict:
            waiter.resume(.conflict)
            return
        case .refused(let error):
            waiter.resume(.failed(error, replayed: false))
            return
        }
        if capture.respondAsync {
            // The client asked not to wait: the capture goes on without this request.
            _ = machine.abandon(waiterID: waiter.id, key: capture.key)
            waiter.resume(.accepted(attempt, replayed: replayed))
        }
        publishCounts()
    }

    /// Hands answers from the processor to whoever waits for them, and keeps them for lookups.
    /// Returns, per answer, what became of it.
    ///
    /// - Parameter requests: request records read back from the request topic (this replica's
    ///   and the others'), taken in first: a retry here of a capture another replica sent then
    ///   waits for its answer instead of sending it again.
    @discardableResult
    public func deliver(_ replies: [CaptureReply], observing requests: [ObservedRequest] = []) -> [ReplyDelivery] {
        let now = clock.now()
        if !requests.isEmpty {
            let wallNow = WallClock.nowMilliseconds()
            for request in requests {
                let age = Duration.milliseconds(max(0, wallNow - (request.producedAtMilliseconds ?? wallNow)))
                resume(machine.observe(request, age: age, now: now))
            }
        }
        var deliveries: [ReplyDelivery] = []
        deliveries.reserveCapacity(replies.count)
        for reply in replies {
            let (delivery, resumed) = machine.deliver(reply, now: now)
            deliveries.append(delivery)
            resume(resumed)
            if !outcomeWatchers.isEmpty, case .response(let response) = reply, let watchers = outcomeWatchers.removeValue(forKey: response.correlationID) {
                watchers.forEach { $0.resume(.answered(response, replayed: true)) }
            }
        }
        publishCounts()
        return deliveries
    }

    /// Ends one request's wait because its client went away (the capture itself goes on). Call
    /// after ``CaptureWaiter/abandon()`` returned true.
    public func abandon(_ waiter: CaptureWaiter, key: String) {
        guard let (abandoned, answer) = machine.abandon(waiterID: waiter.id, key: key) else { return }
        abandoned.resume(answer)
        publishCounts()
    }

    /// What is known of the capture an id names: its answer, that it is pending, or nothing.
    public func lookUp(_ id: CorrelationID) -> PaymentLookup {
        machine.lookUp(id, now: clock.now())
    }

    /// Like ``lookUp(_:)``, but while the capture is pending, waits up to `patience` for its
    /// answer (RFC 7240 `Prefer: wait`). Cancelling the calling task ends the wait.
    public func lookUp(_ id: CorrelationID, waitingUpTo patience: Duration) async -> PaymentLookup {
        let known = machine.lookUp(id, now: clock.now())
        guard case .pending = known, patience > .zero else { return known }
        let watcher = CaptureWaiter()
        outcomeWatchers[id, default: []].append(watcher)
        let clock = self.clock
        let until = clock.now() + patience
        let timer = Task { [weak self] in
            try? await clock.sleep(until: until)
            await self?.stopWatching(id, watcher)
        }
        let answer = await withTaskCancellationHandler {
            await watcher.answer()
        } onCancel: {
            watcher.resume(.failed(.clientGone(id), replayed: false))
        }
        timer.cancel()
        guard case .answered(let response, _) = answer else { return machine.lookUp(id, now: clock.now()) }
        return .final(response)
    }

    private func stopWatching(_ id: CorrelationID, _ watcher: CaptureWaiter) {
        outcomeWatchers[id]?.removeAll { $0 === watcher }
        if outcomeWatchers[id]?.isEmpty == true { outcomeWatchers[id] = nil }
        watcher.resume(.failed(.timedOut(id), replayed: false))
    }

    /// Refuses new captures and ends every wait in progress with
    /// ``CaptureError/shuttingDown(_:)``.
    public func shutdown() {
        inbox.close()
        resume(machine.shutdown(now: clock.now()))
        for watcher in outcomeWatchers.values.joined() {
            watcher.resume(.failed(.shuttingDown(nil), replayed: false))
        }
        outcomeWatchers = [:]
        deadlineTimer?.task.cancel()
        deadlineTimer = nil
        publishCounts()
    }

    // MARK: Internals

    private func sendFailed(_ attempt: CorrelationID, error: CaptureError) {
        resume(machine.sendFailed(attempt, error: error, now: clock.now()))
        publishCounts()
    }

    private func resume(_ resumed: [(CaptureWaiter, CaptureAnswer)]) {
        for (waiter, answer) in resumed {
            waiter.resume(answer)
        }
    }

    /// Makes sure a timer fires by `deadline`. Deadlines mostly come in order, so this usually
    /// finds the timer already set for an earlier one and does nothing.
    private func armDeadlineTimer(for deadline: Duration) {
        if let timer = deadlineTimer, timer.at <= deadline { return }
        deadlineTimer?.task.cancel()
        let clock = self.clock
        let task = Task { [weak self] in
            do {
                try await clock.sleep(until: deadline)
            } catch {
                return  // replaced by a timer for an earlier deadline, or shut down
            }
            await self?.deadlineTimerFired()
        }
        deadlineTimer = (task, deadline)
    }

    private func deadlineTimerFired() {
        deadlineTimer = nil
        resume(machine.expire(now: clock.now()))
        if let next = machine.nextDeadline { armDeadlineTimer(for: next) }
        publishCounts()
    }

    private func publishCounts() {
        pending.store(machine.pendingCount, ordering: .relaxed)
        waiting.store(machine.waitingCount, ordering: .relaxed)
        finishedCount.store(machine.finishedCount, ordering: .relaxed)
    }
}

/// One HTTP request's wait for its capture: the slot the registry puts its answer in, which the
/// request awaits (``answer()``), and which its client's disconnect can abandon from outside the
/// registry.
///
/// Abandoning is a flag first: a request whose client left before its wait began is refused at
/// once when it gets there, so nothing is left behind for a wait that never started.
public final class CaptureWaiter: Sendable {
    private enum Slot {
        case empty
        case waiting(CheckedContinuation<CaptureAnswer, Never>)
        /// Indirect: an answer is larger than the rest of the waiter together, and only one that
        /// comes before its wait begins (a replay, a refusal) is ever kept here.
        indirect case answered(CaptureAnswer)
        case delivered
    }

    private static let counter = Atomic<UInt64>(0)

    /// Unique within the process.
    public let id: UInt64
    private let abandoned = Atomic(false)
    private let slot = Mutex(Slot.empty)

    public init() {
        id = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// The answer, once the registry gives it (at once if it already has). Awaited once.
    public func answer() async -> CaptureAnswer {
        await withCheckedContinuation { continuation in
            let ready: CaptureAnswer? = slot.withLock { slot in
                switch slot {
                case .answered(let answer):
                    slot = .delivered
                    return answer
                case .empty:
                    slot = .waiting(continuation)
                    return nil
                case .waiting, .delivered:
                    preconditionFailure("a capture's answer is awaited once")
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Gives the answer (the registry does, once).
    func resume(_ answer: CaptureAnswer) {
        let continuation: CheckedContinuation<CaptureAnswer, Never>? = slot.withLock { slot in
            switch slot {
            case .empty:
                slot = .answered(answer)
                return nil
            case .waiting(let continuation):
                slot = .delivered
                return continuation
            case .answered, .delivered:
                return nil
            }
        }
        continuation?.resume(returning: answer)
    }

    /// Marks the wait abandoned. Returns true the first time only; the caller then tells the
    /// registry (``CorrelationRegistry/abandon(_:key:)``), in case the wait had begun.
    @discardableResult
    public func abandon() -> Bool {
        !abandoned.exchange(true, ordering: .relaxed)
    }

    public var isAbandoned: Bool { abandoned.load(ordering: .relaxed) }
}

extension Duration {
    /// Whole milliseconds.
    public var wholeMilliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}
