import Hummingbird
import JSONText

/// The routes every DemoSync process exposes to operators: `GET /health/live` (the process
/// answers), `GET /health/ready` (it can do its work) and `GET /metrics` (Prometheus text), each
/// with HEAD too.
public struct OperationsRoutes: Sendable {
    let readiness: @Sendable () -> Readiness
    let metrics: MetricsExport

    private struct Status: Encodable {
        let status: String
        let reason: String?
    }

    public init(readiness: @escaping @Sendable () -> Readiness, metrics: MetricsExport) {
        self.readiness = readiness
        self.metrics = metrics
    }

    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.getAndHead("health/live") { _, _ in
            OperationsRoutes.json(.ok, Status(status: "live", reason: nil))
        }
        router.getAndHead("health/ready") { _, _ in
            switch readiness() {
            case .ready:
                OperationsRoutes.json(.ok, Status(status: "ready", reason: nil))
            case .notReady(let reason):
                OperationsRoutes.json(.serviceUnavailable, Status(status: "not_ready", reason: reason))
            }
        }
        router.getAndHead("metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: metrics.render())))
        }
    }

    private static func json(_ status: HTTPResponse.Status, _ body: Status) -> Response {
        var text = #"{"status":"# + JSONWriter.quoted(body.status)
        if let reason = body.reason { text += #","reason":"# + JSONWriter.quoted(reason) }
        text += "}"
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
