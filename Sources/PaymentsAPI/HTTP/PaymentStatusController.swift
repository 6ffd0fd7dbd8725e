import Hummingbird
import Operations
import Payments

/// `GET /api/v1/payments/{correlation_id}`: the outcome of a capture, for clients that got a 504
/// (or lost the connection) and need to know whether the payment was captured.
struct PaymentStatusController: Sendable {
    let registry: CorrelationRegistry

    private struct Pending: Encodable {
        let correlationID: String
        let status = "pending"

        enum CodingKeys: String, CodingKey {
            case correlationID = "correlation_id"
            case status
        }
    }

    func addRoutes(to group: RouterGroup<DemoSyncRequestContext>) {
        group.getAndHead(":correlation_id", use: status)
    }

    /// 200 with the processor's answer (approved, declined, or expired: never processed); 202
    /// while this replica still waits for it; 404 when it is not known here.
    @Sendable func status(request: Request, context: DemoSyncRequestContext) async throws -> Response {
        let text = context.parameters.get("correlation_id") ?? ""
        guard let id = CorrelationID(validating: text) else {
            throw APIError(.notFound, code: "not_found", message: "no capture has this correlation id")
        }
        switch await registry.lookUp(id) {
        case .final(let response):
            return JSONResponse.make(status: .ok, body: response)
        case .pending:
            return JSONResponse.make(status: .accepted, body: Pending(correlationID: id.rawValue), headers: [.retryAfter: "1"])
        case .unknown:
            throw APIError(
                .notFound, code: "not_found",
                message: "no outcome is known for this correlation id here (never seen, or older than the retention)",
                correlationID: id)
        }
    }
}
