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
    }

    private let script: Script
    private let state = Mutex<(requests: [CaptureRequest], cancelled: Int)>(([], 0))
    let readinessValue: Mutex<GatewayReadiness>

    init(_ script: Script, readiness: GatewayReadiness = .ready) {
        self.script = script
        self.readinessValue = Mutex(readiness)
    }

    var readiness: GatewayReadiness { readinessValue.withLock { $0 } }
    var requests: [CaptureRequest] { state.withLock { $0.requests } }
    var cancelledCount: Int { state.withLock { $0.cancelled } }

    func capture(_ request: CaptureRequest, correlationID: CorrelationID) async throws(CaptureError) -> CaptureResponse {
        state.withLock { $0.requests.append(request) }
        switch script {
        case .approve(let code):
            return .approved(correlationID: correlationID, transactionID: request.transactionID, authorizationCode: code)
        case .decline:
            return .declined(correlationID: correlationID, transactionID: request.transactionID)
        case .fail(let error):
            throw error
        case .answer(let status):
            return CaptureResponse(correlationID: correlationID, transactionID: request.transactionID, status: status)
        case .hang:
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(10))
            }
            state.withLock { $0.cancelled += 1 }
            throw .clientGone(correlationID)
        }
    }
}
