import HTTPTypes
import Hummingbird
import Operations
import Payments

/// `GET /api/v1/payments/{correlation_id}`: the outcome of a capture, for clients that got a 504,
/// lost the connection or asked not to wait (`Prefer: respond-async`). Every replica answers
/// the same: each reads every request and reply record.
struct PaymentStatusController: Sendable {
    let registry: CorrelationRegistry
    /// Caps `Prefer: wait=N`.
    let maximumWait: Duration

    func addRoutes(to group: RouterGroup<DemoSyncRequestContext>) {
        group.getAndHead(":correlation_id", use: status)
    }

    /// 200 with the processor's answer (approved, declined, or expired: never processed); 202
    /// while a sent request has none yet (after holding up to `Prefer: wait=N` seconds for it);
    /// 404 when it is not known.
    @Sendable func status(request: Request, context: DemoSyncRequestContext) async throws -> Response {
        let text = context.parameters.get("correlation_id") ?? ""
        guard let id = CorrelationID(validating: text) else {
            throw APIError(.notFound, code: "not_found", message: "no capture has this correlation id")
        }
        var applied: HTTPFields = [:]
        let lookup: PaymentLookup
        if let seconds = Preferences(request.headers).waitSeconds {
            let wait = min(Duration.seconds(seconds), maximumWait)
            applied[.preferenceApplied] = "wait=\(wait.components.seconds)"
            lookup = await registry.lookUp(id, waitingUpTo: wait)
        } else {
            lookup = await registry.lookUp(id)
        }
        switch lookup {
        case .final(let response):
            return JSONResponse.make(status: .ok, body: response, headers: applied)
        case .pending:
            applied[.retryAfter] = "1"
            return JSONResponse.make(status: .accepted, body: PendingCapture(correlationID: id), headers: applied)
        case .unknown:
            throw APIError(
                .notFound, code: "not_found",
                message: "no outcome is known for this correlation id (never seen, or older than the retention)",
                correlationID: id)
        }
    }
}
