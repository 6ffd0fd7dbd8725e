import Hummingbird
import Logging
import ServiceLifecycle

/// Where and how `serve` listens.
public struct ServerConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var api: APIConfiguration

    public init(host: String = "0.0.0.0", port: Int = 8080, api: APIConfiguration = APIConfiguration()) {
        self.host = host
        self.port = port
        self.api = api
    }
}

/// Assembles `serve`: the HTTP application with the Kafka gateway's service beside it.
public enum PaymentsServer {
    /// The application, ready to `runService()`.
    public static func makeApplication(
        server: ServerConfiguration, gateway: KafkaPaymentGateway, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let disconnects = ClientDisconnectWatcher()
        var application = Application(
            router: PaymentsRouter.build(gateway: gateway, configuration: server.api, disconnects: disconnects),
            server: .http1(configuration: .init(additionalChannelHandlers: [ClientDisconnectHandler(watcher: disconnects)])),
            configuration: .init(address: .hostname(server.host, port: server.port), serverName: "demosync"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? server.port) },
            logger: logger)
        application.addServices(PaymentsKafkaService(gateway: gateway))
        return application
    }

    /// Runs `serve` until SIGTERM or SIGINT, then shuts down gracefully: the server stops
    /// accepting and finishes the requests in flight, then the Kafka service ends what still
    /// waits and closes its clients.
    public static func run(
        server: ServerConfiguration, gateway: KafkaPaymentGateway, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        try await makeApplication(server: server, gateway: gateway, logger: logger, onServerRunning: onServerRunning).runService()
    }
}
