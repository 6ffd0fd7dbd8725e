import Operations
import Payments
import PaymentsAPI
import Synchronization
import TestSupport

/// A gateway for HTTP unit tests: the real correlation registry, on a manual clock, over a
/// transport that answers the way the test scripted and records what it was asked to send. The
/// Kafka gateway is exercised by the live and end-to-end tests.
final class FakeGateway: PaymentGateway {
    enum Script: Sendable {
        case approve(code: String)
        case decline
        /// The transport refuses the request (it was certainly not sent).
        case refuse(CaptureError)
        case answer(CaptureStatus)
        /// Never answers; the wait ends by its deadline (``expireWaits()``) or its client.
        case hang
        /// Approves after the test calls ``release()``.
        case approveWhenReleased
    }

    let registry: CorrelationRegistry
    let clock: ManualClock
    let readinessValue: Mutex<Readiness>
    private let transport: ScriptedTransport
    private let timeout: Duration

    init(_ script: Script, readiness: Readiness = .ready, timeout: Duration = .seconds(30), maxPending: Int = 1_000) {
        self.timeout = timeout
        let clock = ManualClock()
        self.clock = clock
        let transport = ScriptedTransport(script: script)
        let registry = CorrelationRegistry(
            configuration: .init(timeout: timeout, maxPending: maxPending), transport: transport, clock: ManualDeadlineClock(clock))
        transport.registry.withLock { $0 = registry }
        self.transport = transport
        self.registry = registry
        // The registry's loop, for as long as the test process runs (a gateway per test).
        Task { await registry.run() }
        readinessValue = Mutex(readiness)
    }

    var readiness: Readiness { readinessValue.withLock { $0 } }
    /// Requests sent (or refused, with `.refuse`), in order.
    var requests: [CaptureRequest] { transport.sent.withLock { $0.map(\.request) } }
    /// Their correlation ids.
    var attempts: [CorrelationID] { transport.sent.withLock { $0.map(\.attempt) } }
    /// The idempotency key each was sent under.
    var idempotencyKeys: [String] { transport.sent.withLock { $0.map(\.key) } }

    /// Lets every `approveWhenReleased` capture answer.
    func release() async {
        let held = transport.held.withLock { held in
            defer { held.removeAll() }
            return held
        }
        await registry.deliver(held.map { .response(.approved(correlationID: $0.attempt, transactionID: $0.request.transactionID, authorizationCode: "777777")) })
    }

    /// Moves the registry's clock past the capture timeout: every capture waiting ends.
    func expireWaits() async {
        await clock.waitForSleepers(1)
        clock.advance(by: timeout)
    }

    /// Waits (yielding) until `count` requests were sent.
    func waitForRequests(_ count: Int) async {
        for _ in 0..<10_000 where requests.count < count {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Waits until `count` HTTP requests wait in the registry.
    func waitForWaiters(_ count: Int) async {
        for _ in 0..<10_000 where registry.waitingRequestCount < count {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}

/// The scripted side of ``FakeGateway``: answers through the registry, from a task of its own,
/// as a reply consumer would.
private final class ScriptedTransport: CaptureTransport {
    struct Sent: Sendable {
        let request: CaptureRequest
        let attempt: CorrelationID
        let key: String
    }

    let script: FakeGateway.Script
    let sent = Mutex<[Sent]>([])
    let held = Mutex<[Sent]>([])
    let registry = Mutex<CorrelationRegistry?>(nil)

    init(script: FakeGateway.Script) {
        self.script = script
    }

    func send(
        _ capture: CaptureSubmission, attempt: CorrelationID, deadline: Int64, othersInProgress: Int,
        onFailure: @escaping @Sendable (SendFailure) -> Void
    ) throws(CaptureError) {
        let request = capture.request
        let record = Sent(request: request, attempt: attempt, key: capture.key)
        sent.withLock { $0.append(record) }
        if case .refuse(let error) = script { throw error }
        let reply: CaptureResponse
        switch script {
        case .approve(let code):
            reply = .approved(correlationID: attempt, transactionID: request.transactionID, authorizationCode: code)
        case .decline:
            reply = .declined(correlationID: attempt, transactionID: request.transactionID)
        case .answer(let status):
            reply = CaptureResponse(correlationID: attempt, transactionID: request.transactionID, status: status)
        case .approveWhenReleased:
            held.withLock { $0.append(record) }
            return
        case .hang, .refuse:
            return
        }
        guard let registry = registry.withLock({ $0 }) else { return }
        Task { await registry.deliver([.response(reply)]) }
    }
}
