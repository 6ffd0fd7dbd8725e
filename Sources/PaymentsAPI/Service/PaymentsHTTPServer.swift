import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOSSL
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle

/// `serve`'s HTTP server: Hummingbird's HTTP/1.1 server with one responder in front of the
/// router, which sends `POST /api/v1/payments/capture` straight to the ``CaptureEndpoint`` and
/// every other request to the router.
///
/// A pending capture holds its connection's task, and every async frame between that task and
/// the capture's wait for as long as it is pending (each frame is part of a slab of about 1 KB
/// in the task's allocator). Skipping the application wrapper, the router and its middleware
/// chain for the one route that waits keeps a pending capture's memory small; the other routes
/// answer at once and go through the router as usual. What the application wrapper adds to
/// every response (`Date`, `Server`, a request id in the log metadata) is added here.
struct PaymentsHTTPServer: Service {
    private let server: any Service

    /// - Parameter additionalChannelHandlers: makes the extra handlers of each connection's
    ///   pipeline (one set per connection).
    init(
        configuration: ServerConfiguration, router: Router<DemoSyncRequestContext>, capture: CaptureEndpoint,
        additionalChannelHandlers: @escaping @Sendable () -> [any RemovableChannelHandler], logger: Logger,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void
    ) throws {
        let limits = configuration.api.limits
        let routes = router.buildResponder()
        let dates = HTTPDate()
        var builder = HTTPServerBuilder.http1(
            configuration: .init(
                additionalChannelHandlers: additionalChannelHandlers(),
                idleTimeout: nil,
                httpDecoderConfiguration: .init(
                    maxHeaderFieldSize: limits.maxHeaderBytes, maxHeaderListSize: limits.maxHeaderBytes, maxHeaderFieldCount: 100)))
        if let tls = configuration.tls {
            builder = try .tls(builder, tlsConfiguration: Self.tlsConfiguration(tls))
        }
        server = try builder.buildServer(
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "demosync"),
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger,
            responder: { request, writer, channel in
                var response: Response
                if request.method == .post, request.uri.path == CaptureEndpoint.path {
                    response = await capture.respondDirectly(to: request, channel: channel, logger: logger)
                } else {
                    response = await Self.route(request, through: routes, channel: channel, logger: logger)
                }
                response.headers[.date] = dates.current
                response.headers[.server] = "demosync"
                try await writer.write(response: response.head, body: response.body)
            },
            onServerRunning: onServerRunning)
    }

    /// The server side of TLS from PEM files; a file that cannot be read or parsed is an error
    /// that names it.
    static func tlsConfiguration(_ files: TLSFiles) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        } catch {
            throw TLSFilesError("cannot read the TLS certificate \(files.certificateChain): \(error)")
        }
        do {
            key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        } catch {
            throw TLSFilesError("cannot read the TLS private key \(files.privateKey): \(error)")
        }
        guard !chain.isEmpty else { throw TLSFilesError("no certificate in \(files.certificateChain)") }
        return TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
    }

    /// A request through the router, with the context and error handling Hummingbird's
    /// application gives it.
    private static func route(
        _ request: Request, through routes: RouterResponder<DemoSyncRequestContext>, channel: any Channel, logger: Logger
    ) async -> Response {
        var logger = logger
        logger[metadataKey: "hb.request.id"] = .stringConvertible(RequestID())
        let context = DemoSyncRequestContext(source: .init(channel: channel, logger: logger))
        do {
            return try await routes.respond(to: request, context: context)
        } catch {
            logger.debug("unrecognised error", metadata: ["error.type": "\(error)"])
            return Response(status: .internalServerError)
        }
    }

    func run() async throws {
        try await server.run()
    }
}

/// A certificate or key file for HTTPS that cannot be used.
public struct TLSFilesError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
