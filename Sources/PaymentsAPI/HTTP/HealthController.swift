import Hummingbird

/// `GET /health/live` (the process answers) and `GET /health/ready` (captures can be taken:
/// the brokers are reachable and the reply consumer is positioned).
struct HealthController: Sendable {
    let gateway: any PaymentGateway

    private struct Status: Encodable {
        let status: String
        let reason: String?
    }

    func addRoutes(to group: RouterGroup<DemoSyncRequestContext>) {
        group.get("live") { _, _ in
            JSONResponse.make(status: .ok, body: Status(status: "live", reason: nil))
        }
        group.get("ready") { _, _ in
            switch gateway.readiness {
            case .ready:
                JSONResponse.make(status: .ok, body: Status(status: "ready", reason: nil))
            case .notReady(let reason):
                JSONResponse.make(status: .serviceUnavailable, body: Status(status: "not_ready", reason: reason))
            }
        }
    }
}
