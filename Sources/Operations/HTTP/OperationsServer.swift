import Hummingbird
import Logging
import ServiceLifecycle

/// A small HTTP server with only the operations routes, for processes that have no API of their
/// own (the simulator): health checks and metrics on a port of their own.
public struct OperationsServer: Service {
    let host: String
    let port: Int
    let routes: OperationsRoutes
    let logger: Logger

    public init(host: String, port: Int, routes: OperationsRoutes, logger: Logger) {
        self.host = host
        self.port = port
        self.routes = routes
        self.logger = logger
    }

    public func run() async throws {
        let router = Router()
        routes.add(to: router)
        let application = Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "demosync-operations"),
            onServerRunning: { [logger] channel in
                logger.notice("operations endpoints listening", metadata: ["http.port": "\(channel.localAddress?.port ?? 0)"])
            },
            logger: logger)
        try await application.run()
    }
}
