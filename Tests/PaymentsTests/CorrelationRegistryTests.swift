import Payments
import Synchronization
import Testing
import TestSupport

/// A transport that records what it was asked to send, and can refuse.
final class RecordingTransport: CaptureTransport {
    struct Sent: Sendable {
        let request: CaptureRequest
        let attempt: CorrelationID
        let key: String
        let othersInProgress: Int
        let onFailure: @Sendable (SendFailure) -> Void
    }

    private let sent = Mutex<[Sent]>([])
    let refusal: CaptureError?

    init(refusing refusal: CaptureError? = nil) {
        self.refusal = refusal
    }

    var attempts: [Sent] { sent.withLock { $0 } }

    func send(
        _ capture: CaptureSubmission, attempt: CorrelationID, deadline: Int64, othersInProgress: Int,
        onFailure: @escaping @Sendable (SendFailure) -> Void
    ) throws(CaptureError) {
        if let refusal { throw refusal }
        sent.withLock {
            $0.append(Sent(request: capture.request, attempt: attempt, key: capture.key, othersInProgress: othersInProgress, onFailure: onFailure))
        }
    }

    /// Waits (yielding) until `count` attempts were sent.
    func waitForAttempts(_ count: Int) async {
        for _ in 0..<10_000 where attempts.count < count {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}

extension CorrelationRegistry {
    /// The registry with its loop running (until the test process ends).
    nonisolated func started() -> CorrelationRegistry {
        Task { await self.run() }
        return self
    }
}

@Suite("CorrelationRegistry")
struct CorrelationRegistryTests {
    static let request = CaptureRequest(transactionID: "tx_registry", amount: Amount(exactly: "10.00")!, currency: CurrencyCode("BRL")!)
    static let submission = CaptureSubmission(request, idempotencyKey: nil)

    private func approved(_ id: CorrelationID) -> CaptureReply {
        .response(.approved(correlationID: id, transactionID: "tx_registry", authorizationCode: "123456"))
    }

    @Test("a capture sends its request once and resumes with the verdict; nothing is left pending")
    func replyResumes() async throws {
        let transport = RecordingTransport()
        let registry = CorrelationRegistry(configuration: .init(), transport: transport, clock: ManualDeadlineClock(ManualClock())).started()
        let waiting = Task { await registry.capture(Self.submission, waiter: CaptureWaiter()) }
        await transport.waitForAttempts(1)
        let attempt = try #require(transport.attempts.first).attempt
        #expect(await registry.deliver([approved(attempt)]) == [.delivered])
        guard case .answered(let response, replayed: false) = await waiting.value else { Issue.record("expected the verdict"); return }
        #expect(response.correlationID == attempt)
        #expect(registry.pendingCount == 0 && registry.waitingRequestCount == 0)
    }

    @Test("each request is sent with the number of other captures in progress, which falls as they are answered")
    func othersInProgress() async throws {
        let transport = RecordingTransport()
        let registry = CorrelationRegistry(configuration: .init(), transport: transport, clock: ManualDeadlineClock(ManualClock())).started()
        var waits: [Task<CaptureAnswer, Never>] = []
        for index in 0..<3 {
            waits.append(Task { await registry.capture(CaptureSubmission(Self.request, idempotencyKey: "key-\(index)"), waiter: CaptureWaiter()) })
            await transport.waitForAttempts(index + 1)
        }
        #expect(transport.attempts.map(\.othersInProgress) == [0, 1, 2])
        #expect(await registry.deliver(transport.attempts.prefix(2).map { approved($0.attempt) }) == [.delivered, .delivered])
        let fourth = Task { await registry.capture(CaptureSubmission(Self.request, idempotencyKey: "key-3"), waiter: CaptureWaiter()) }
        await transport.waitForAttempts(4)
        #expect(transport.attempts.last?.othersInProgress == 1, "only the third is still in progress")
        #expect(await registry.deliver(transport.attempts.suffix(2).map { approved($0.attempt) }) == [.delivered, .delivered])
        for wait in waits + [fourth] {
            guard case .answered = await wait.value else { Issue.record("expected the verdict"); return }
        }
    }

    @Test("the deadline task ends the wait with a timeout, one timer for every capture")
    func deadline() async throws {
        let clock = ManualClock()
        let transport = RecordingTransport()
        let registry = CorrelationRegistry(configuration: .init(timeout: .seconds(5)), transport: transport, clock: ManualDeadlineClock(clock)).started()
        let waits = (0..<3).map { index in
            Task { await registry.capture(CaptureSubmission(Self.request, idempotencyKey: "key-\(index)"), waiter: CaptureWaiter()) }
        }
        await transport.waitForAttempts(3)
        await clock.waitForSleepers(1)
        #expect(clock.sleeperCount == 1, "one deadline task serves all three captures")
        clock.advance(by: .seconds(5))
        for wait in waits {
            guard case .failed(.timedOut, _) = await wait.value else { Issue.record("expected a timeout"); return }
        }
        #expect(registry.pendingCount == 0)
        await clock.waitForSleepers(0)
        #expect(clock.sleeperCount == 0, "no timer is left once nothing is in flight")
    }

    @Test("a request the transport refuses fails at once and is forgotten; a delivery failure after it was handed over too")
    func sendFailures() async throws {
        let refusing = CorrelationRegistry(
            configuration: .init(), transport: RecordingTransport(refusing: .unavailable(reason: "brokers down")),
            clock: ManualDeadlineClock(ManualClock())
        ).started()
        guard case .failed(.unavailable(let reason), false) = await refusing.capture(Self.submission, waiter: CaptureWaiter()) else {
            Issue.record("expected unavailable"); return
        }
        #expect(reason == "brokers down")
        #expect(refusing.pendingCount == 0)

        let transport = RecordingTransport()
        let registry = CorrelationRegistry(configuration: .init(), transport: transport, clock: ManualDeadlineClock(ManualClock())).started()
        let waiting = Task { await registry.capture(Self.submission, waiter: CaptureWaiter()) }
        await transport.waitForAttempts(1)
        transport.attempts[0].onFailure(SendFailure(reason: "may be in the topic", certainlyNotSent: false))
        transport.attempts[0].onFailure(SendFailure(reason: "not delivered", certainlyNotSent: true))
        guard case .failed(.unavailable("not delivered"), _) = await waiting.value else { Issue.record("expected unavailable"); return }
    }

    /// The scenario of `CaptureLedger`'s defect (b): a client that leaves while its request is
    /// on its way to the registry (here: before it arrives, and after it was answered) must leave
    /// nothing behind.
    @Test("a waiter abandoned before its wait began is refused at once; abandoning after the answer is a no-op; nothing is held")
    func abandonedWaiters() async throws {
        let transport = RecordingTransport()
        let registry = CorrelationRegistry(configuration: .init(), transport: transport, clock: ManualDeadlineClock(ManualClock())).started()
        let early = CaptureWaiter()
        #expect(early.abandon())
        await registry.abandon(early, key: Self.submission.key)  // arrives first: nothing to end yet
        guard case .failed(.clientGone(nil), _) = await registry.capture(Self.submission, waiter: early) else {
            Issue.record("expected client_gone"); return
        }
        #expect(transport.attempts.isEmpty, "nothing was sent for a client that had left")

        let answered = CaptureWaiter()
        let waiting = Task { await registry.capture(Self.submission, waiter: answered) }
        await transport.waitForAttempts(1)
        await registry.deliver([approved(transport.attempts[0].attempt)])
        _ = await waiting.value
        #expect(answered.abandon())
        await registry.abandon(answered, key: Self.submission.key)
        // A replay for a waiter that left before it arrived: refused, nothing kept.
        let replayed = CaptureWaiter()
        replayed.abandon()
        _ = await registry.capture(Self.submission, waiter: replayed)
        #expect(registry.waitingRequestCount == 0 && registry.pendingCount == 0)
    }

    @Test("a waiter abandoned while waiting ends at once; the capture goes on and its verdict is replayed")
    func abandonWhileWaiting() async throws {
        let transport = RecordingTransport()
        let registry = CorrelationRegistry(configuration: .init(), transport: transport, clock: ManualDeadlineClock(ManualClock())).started()
        let waiter = CaptureWaiter()
        let waiting = Task { await registry.capture(Self.submission, waiter: waiter) }
        await transport.waitForAttempts(1)
        #expect(waiter.abandon())
        await registry.abandon(waiter, key: Self.submission.key)
        guard case .failed(.clientGone(.some), _) = await waiting.value else { Issue.record("expected client_gone"); return }
        #expect(registry.waitingRequestCount == 0)
        #expect(registry.pendingCount == 1, "the capture itself still waits for its answer")
        await registry.deliver([approved(transport.attempts[0].attempt)])
        guard case .answered(_, replayed: true) = await registry.capture(Self.submission, waiter: CaptureWaiter()) else {
            Issue.record("expected a replay"); return
        }
        #expect(transport.attempts.count == 1)
    }

    @Test("a cancelled waiting task is abandoned")
    func cancellation() async throws {
        let transport = RecordingTransport()
        let registry = CorrelationRegistry(configuration: .init(), transport: transport, clock: ManualDeadlineClock(ManualClock())).started()
        let waiting = Task { await registry.capture(Self.submission, waiter: CaptureWaiter()) }
        await transport.waitForAttempts(1)
        waiting.cancel()
        guard case .failed(.clientGone, _) = await waiting.value else { Issue.record("expected client_gone"); return }
    }

    @Test("shutdown ends every wait with shutting_down and refuses new captures")
    func shutdown() async throws {
        let transport = RecordingTransport()
        let registry = CorrelationRegistry(configuration: .init(), transport: transport, clock: ManualDeadlineClock(ManualClock())).started()
        let waiting = Task { await registry.capture(Self.submission, waiter: CaptureWaiter()) }
        await transport.waitForAttempts(1)
        await registry.shutdown()
        guard case .failed(.shuttingDown(.some), _) = await waiting.value else { Issue.record("expected shutting_down"); return }
        guard case .failed(.shuttingDown(nil), _) = await registry.capture(CaptureSubmission(Self.request, idempotencyKey: "new"), waiter: CaptureWaiter())
        else { Issue.record("expected a refusal"); return }
    }
}
