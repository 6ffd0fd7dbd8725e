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
/// A pending capture holds its connection's task, and the task's allocator keeps every slab
/// (about 1 KB each) that the task's deepest stack of async frames ever took, until the
/// connection closes. Skipping the application wrapper, the router and its middleware chain for
/// the one route that waits keeps a pending capture's memory small; the other routes answer at
/// once and go through the router as usual. For the same reason a capture's body is read in the
/// pipeline (``CaptureBodyCollector``) and every response is written into the pipeline
/// (``ChannelResponseWriting``), not through Hummingbird's body stream and response writer.
/// What the application wrapper adds to every response (`Date`, `Server`, a request id in the
/// log metadata) is added here.
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
        let responses = Responses(capture: capture, routes: router.buildResponder(), logger: logger)
        let dates = HTTPDate()
        var builder = HTTPServerBuilder.http1(
            configuration: .init(
                // The collector goes last: the handlers before it see a capture's body as it comes.
                additionalChannelHandlers: additionalChannelHandlers() + [CaptureBodyCollector(bodies: capture.bodies, maxBodyBytes: limits.maxBodyBytes)],
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
            responder: { request, _, channel in
                try await ChannelResponseWriting.write(await responses.response(to: request, channel: channel), dates: dates, to: channel)
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

    func run() async throws {
        try await server.run()
    }
}

/// Every request's response: a capture from the ``CaptureEndpoint``, anything else from the
/// router.
///
/// The responder's async functions are each kept out of line, with few locals: a connection's
/// task keeps the slabs of its task allocator that its deepest stack of async frames ever took
/// (here: waiting for a capture's answer), for as long as the connection is open. Each frame
/// inlined into another makes the other larger on every path.
private struct Responses: Sendable {
    let capture: CaptureEndpoint
    let routes: RouterResponder<DemoSyncRequestContext>
    let logger: Logger

    @inline(never)
    func response(to request: Request, channel: any Channel) async -> Response {
        if CaptureEndpoint.isCapture(request.head) {
            await capture.respondDirectly(to: request, channel: channel, logger: logger)
        } else {
            await route(request, channel: channel)
        }
    }

    /// A request through the router, with the context and error handling Hummingbird's
    /// application gives it.
    @inline(never)
    private func route(_ request: Request, channel: any Channel) async -> Response {
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
}

/// A certificate or key file for HTTPS that cannot be used.
public struct TLSFilesError: Error, CustomStringConvertible {
    public let description: String

    init(_ description: String) {
        self.description = description
    }
}
