import Operations
import Payments
import PaymentsAPI
import Synchronization

/// A gateway for HTTP unit tests: answers with whatever the test scripted, and records what it
/// was asked. The real Kafka gateway is exercised by the live and end-to-end tests.
final class FakeGateway: PaymentGateway {
    enum Script: Sendable {
        case approve(code: String)
        case decline
        case fail(CaptureError)
        case answer(CaptureStatus)
        /// Never answers; ends only by cancellation.
        case hang
        /// Approves after the test calls ``release()``.
        case approveWhenReleased
    }

    private let script: Script
    private let state = Mutex<(requests: [CaptureRequest], cancelled: Int, keys: [String?])>(([], 0, []))
    private let lookups = Mutex<[CorrelationID: PaymentLookup]>([:])
    private let gate = Mutex<(released: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
    let readinessValue: Mutex<Readiness>

    init(_ script: Script, readiness: Readiness = .ready) {
        self.script = script
        self.readinessValue = Mutex(readiness)
    }

    var readiness: Readiness { readinessValue.withLock { $0 } }
    var requests: [CaptureRequest] { state.withLock { $0.requests } }
    var cancelledCount: Int { state.withLock { $0.cancelled } }
    var idempotencyKeys: [String?] { state.withLock { $0.keys } }

    /// Scripts what ``lookUp(_:)`` answers for an id.
    func setLookup(_ lookup: PaymentLookup, for id: CorrelationID) {
        lookups.withLock { $0[id] = lookup }
    }

    func lookUp(_ correlationID: CorrelationID) async -> PaymentLookup {
        lookups.withLock { $0[correlationID] } ?? .unknown
    }

    /// Lets every `approveWhenReleased` capture answer.
    func release() {
        let waiters = gate.withLock { gate in
            gate.released = true
            defer { gate.waiters.removeAll() }
            return gate.waiters
        }
        waiters.forEach { $0.resume() }
    }

    func capture(_ request: CaptureRequest, correlationID: CorrelationID, idempotencyKey: String?) async throws(CaptureError)
        -> CaptureResponse
    {
        state.withLock {
            $0.requests.append(request)
            $0.keys.append(idempotencyKey)
        }
        switch script {
        case .approve(let code):
            return .approved(correlationID: correlationID, transactionID: request.transactionID, authorizationCode: code)
        case .decline:
            return .declined(correlationID: correlationID, transactionID: request.transactionID)
        case .fail(let error):
            throw error
        case .answer(let status):
            return CaptureResponse(correlationID: correlationID, transactionID: request.transactionID, status: status)
        case .approveWhenReleased:
            await withCheckedContinuation { continuation in
                let released = gate.withLock { gate in
                    if !gate.released { gate.waiters.append(continuation) }
                    return gate.released
                }
                if released { continuation.resume() }
            }
            return .approved(correlationID: correlationID, transactionID: request.transactionID, authorizationCode: "777777")
        case .hang:
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(10))
            }
            state.withLock { $0.cancelled += 1 }
            throw .clientGone(correlationID)
        }
    }
}
