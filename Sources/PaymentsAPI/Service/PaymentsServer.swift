import Hummingbird
import Logging
import Operations
import ServiceLifecycle
import UnixSignals

/// Where and how `serve` listens.
public struct ServerConfiguration: Sendable, Hashable {
    public var host: String
    public var port: Int
    public var api: APIConfiguration
    /// HTTPS instead of HTTP, when set.
    public var tls: TLSFiles?

    public init(host: String = "0.0.0.0", port: Int = 8080, api: APIConfiguration = APIConfiguration(), tls: TLSFiles? = nil) {
        self.host = host
        self.port = port
        self.api = api
        self.tls = tls
    }
}

/// The PEM files HTTPS is served with, read once at start-up.
public struct TLSFiles: Sendable, Hashable {
    /// The server's certificate, followed by any intermediates.
    public var certificateChain: String
    public var privateKey: String

    public init(certificateChain: String, privateKey: String) {
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }
}

/// Assembles `serve`: the HTTP application and the Kafka gateway's service, shut down in order.
public enum PaymentsServer {
    /// The HTTP server alone (the Kafka service runs beside it, see ``run(server:gateway:metrics:logger:onServerRunning:)``).
    public static func makeHTTPServer(
        server: ServerConfiguration, gateway: KafkaPaymentGateway, metrics: MetricsExport, traceExport: (any Service)? = nil, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) throws -> some Service {
        let disconnects = ClientDisconnectWatcher()
        let connections = ConnectionCount()
        let limits = server.api.limits
        let operations = OperationsRoutes(readiness: { gateway.readiness }, metrics: metrics)
        metrics.refreshBeforeRendering { gateway.recordGauges() }
        return try PaymentsHTTPServer(
            configuration: server,
            router: PaymentsRouter.build(gateway: gateway, configuration: server.api, operations: operations, disconnects: disconnects),
            capture: CaptureEndpoint(gateway: gateway, configuration: server.api, disconnects: disconnects),
            additionalChannelHandlers: {
                [ReceiveBufferSizing(), ClientDeadlineHandler(limits: limits, connections: connections), ClientDisconnectHandler(watcher: disconnects)]
            }, logger: logger,
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? server.port) })
    }

    /// Runs `serve` until SIGTERM or SIGINT, then shuts down in order:
    /// 1. new captures are refused with 503 and readiness turns false;
    /// 2. the server stops accepting connections and finishes the requests in flight (each up
    ///    to its capture timeout);
    /// 3. whatever still waits is answered 503, the reply consumer is closed and the producer
    ///    flushed and closed.
    public static func run(
        server: ServerConfiguration, gateway: KafkaPaymentGateway, metrics: MetricsExport, traceExport: (any Service)? = nil, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) async throws {
        let httpServer: any Service
        do {
            httpServer = try makeHTTPServer(server: server, gateway: gateway, metrics: metrics, logger: logger, onServerRunning: onServerRunning)
        } catch {
            // The Kafka clients' threads must be gone before the process exits with the error.
            await gateway.shutdown()
            throw error
        }
        // Services shut down in reverse order: the drain signal first, the Kafka service, then
        // the trace exporter (which flushes the last spans) last.
        let group = ServiceGroup(
            configuration: .init(
                services: (traceExport.map { [ServiceGroupConfiguration.ServiceConfiguration(service: $0)] } ?? []) + [
                    .init(service: PaymentsKafkaService(gateway: gateway)),
                    .init(service: httpServer),
                    .init(service: DrainSignal { gateway.beginDraining() }),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.notice("stopped", metadata: ["pending": "\(gateway.pendingCaptures)"])
    }
}

/// A service that does nothing until graceful shutdown begins, then runs `onShutdown` and ends:
/// the first step of an ordered shutdown.
struct DrainSignal: Service {
    let onShutdown: @Sendable () -> Void

    func run() async throws {
        try? await gracefulShutdown()
        onShutdown()
    }
}
