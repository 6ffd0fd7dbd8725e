import Foundation
import Hummingbird
import Logging

/// The HTTP ceiling of this machine: a Hummingbird server whose `POST /echo` decodes a body shaped
/// like a capture request and encodes a body shaped like a capture response, with no Kafka.
enum HTTPEcho {
    struct CaptureShapedRequest: Decodable, Sendable {
        let transaction_id: String
        let amount: Double
        let currency: String
        let metadata: [String: String]?
    }

    struct CaptureShapedResponse: ResponseEncodable, Sendable {
        let correlation_id: String
        let transaction_id: String
        let status: String
        let authorization_code: String
    }

    /// Serves until SIGTERM or SIGINT. Prints `listening PORT` once it accepts connections.
    static func run(host: String, port: Int) async throws {
        guard port > 0 else { throw BenchUsageError("http-echo needs an explicit --port") }
        var logger = Logger(label: "demosync-bench.http-echo")
        logger.logLevel = .warning
        let router = Router()
        router.post("echo") { request, context -> CaptureShapedResponse in
            let body = try await request.decode(as: CaptureShapedRequest.self, context: context)
            // A capture makes a correlation id too.
            return CaptureShapedResponse(
                correlation_id: UUID().uuidString.lowercased(), transaction_id: body.transaction_id, status: "approved",
                authorization_code: "042517")
        }
        router.get("health") { _, _ -> String in "ok" }
        let application = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "demosync-bench"),
            onServerRunning: { _ in FileHandle.standardOutput.write(Data("listening \(port)\n".utf8)) },
            logger: logger)
        try await application.runService()
    }
}
