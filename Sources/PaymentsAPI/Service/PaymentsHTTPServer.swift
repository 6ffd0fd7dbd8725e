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
        let responses = Responses(capture: capture, routes: router.buildResponder(), logger: logger)
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
                // A capture's body is read here, at the top: reading it is the deepest stack of
                // async frames a capture takes.
                let isCapture = Responses.isCapture(request)
                let body = isCapture ? await responses.capture.collectBody(of: request) : nil
                try await Self.write(await responses.response(to: request, isCapture: isCapture, body: body, channel: channel), dates: dates, to: writer)
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

    /// Writes a response with what Hummingbird's application adds to every one.
    @inline(never)
    private static func write(_ response: Response, dates: HTTPDate, to writer: consuming ResponseWriter) async throws {
        let response = stamped(response, dates: dates)
        try await writer.write(response: response.head, body: response.body)
    }

    @inline(never)
    private static func stamped(_ response: Response, dates: HTTPDate) -> Response {
        var response = response
        response.headers[.date] = dates.current
        response.headers[.server] = "demosync"
        return response
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
/// (reading a body, writing a response, waiting for a capture's answer), for as long as the
/// connection is open. Each frame inlined into another makes the other larger on every path.
private struct Responses: Sendable {
    let capture: CaptureEndpoint
    let routes: RouterResponder<DemoSyncRequestContext>
    let logger: Logger

    @inline(never)
    func response(to request: Request, isCapture: Bool, body: ByteBuffer?, channel: any Channel) async -> Response {
        if isCapture {
            await capture.respondDirectly(to: request, body: body, channel: channel, logger: logger)
        } else {
            await route(request, channel: channel)
        }
    }

    @inline(never)
    static func isCapture(_ request: Request) -> Bool {
        request.method == .post && request.uri.path == CaptureEndpoint.path
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
