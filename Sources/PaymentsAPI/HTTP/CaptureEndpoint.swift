import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Instrumentation
import Logging
import NIOCore
import Payments
import Tracing

/// `POST /api/v1/payments/capture`: validates the body, hands the capture to the correlation
/// registry, and answers with the processor's verdict or a JSON error.
///
/// The server calls ``respondDirectly(to:channel:logger:)`` for every capture, outside the
/// router: a capture waits for its answer on its connection's task, and every async frame under
/// that wait is memory held for as long as the capture is pending, so the path to it is kept
/// short (no middleware, no router). It does what the router's middlewares do for other routes:
/// authentication, the server span with `traceresponse`, the JSON error body. Under the router
/// (``handle(request:context:)``, as the router tests run it) the middlewares do those.
struct CaptureEndpoint: Sendable {
    static let path = "/api/v1/payments/capture"

    let registry: CorrelationRegistry
    let limits: HTTPLimits
    let authentication: BearerAuthentication?
    let disconnects: ClientDisconnectWatcher
    let metrics: CaptureMetrics
    /// Capture bodies read by the connections' ``CaptureBodyCollector``s, for the fast path.
    let bodies = CaptureBodies()
    /// The bootstrapped tracer, looked up once: `InstrumentationSystem` takes a lock and searches
    /// its instruments on every use.
    let tracer: any Tracer

    init(gateway: any PaymentGateway, configuration: APIConfiguration, disconnects: ClientDisconnectWatcher) {
        registry = gateway.registry
        limits = configuration.limits
        authentication = configuration.authTokens.isEmpty ? nil : BearerAuthentication(tokens: configuration.authTokens, protectedPathPrefix: "/api/")
        self.disconnects = disconnects
        metrics = CaptureMetrics()
        tracer = InstrumentationSystem.tracer
    }

    func addRoute(to group: RouterGroup<DemoSyncRequestContext>) {
        group.post("capture", use: handle)
    }

    /// The route's handler under the router, whose middlewares authenticate and trace.
    @Sendable func handle(request: Request, context: DemoSyncRequestContext) async throws -> Response {
        await respond(to: request, body: await collectBody(of: request), channel: context.channel, logger: context.logger, fastPath: false)
    }

    /// Whether a request is a capture: `POST` to ``path``, whatever its query. The server's fast
    /// path and the ``CaptureBodyCollector`` both decide with this.
    static func isCapture(_ head: HTTPRequest) -> Bool {
        guard head.method == .post, let target = head.path else { return false }
        guard target.utf8.first == UInt8(ascii: "/") else { return URI(target).path == path }  // absolute form
        return target.utf8.prefix(while: { $0 != UInt8(ascii: "?") }).elementsEqual(path.utf8)
    }

    /// The whole capture, as the server's fast path: with authentication and the server span.
    /// The connection's ``CaptureBodyCollector`` has read the body already: reading it through
    /// the request's body stream from here would be the deepest stack of async frames a capture
    /// has, and the slabs of the connection's task allocator that it takes stay with the
    /// connection.
    @inline(never)
    func respondDirectly(to request: Request, channel: any Channel, logger: Logger) async -> Response {
        let body: ByteBuffer?
        switch bodies.take(from: channel) {
        case .complete(let bytes): body = bytes
        case .tooLarge: body = nil
        case nil: body = await collectBody(of: request)  // a pipeline without the collector
        }
        return await respond(to: request, body: body, channel: channel, logger: logger, fastPath: true)
    }

    /// The body, or `nil` when it is larger than the limit.
    @inline(never)
    func collectBody(of request: Request) async -> ByteBuffer? {
        try? await request.body.collect(upTo: limits.maxBodyBytes)
    }

    /// Reads the capture, waits for its answer, and answers; never throws (every failure is a
    /// JSON error response). On the fast path it authenticates and opens the server span itself;
    /// under the router its middlewares have, and the request carries the task's trace on.
    ///
    /// The wait is the only suspension, and the work either side of it is in synchronous
    /// functions kept out of line: an async function's frame holds the locals of everything
    /// inlined into it for as long as the capture is pending (with them inlined, this frame was
    /// 2.5 KB). The body is consumed before the wait.
    private func respond(to request: Request, body: consuming ByteBuffer?, channel: (any Channel)?, logger: Logger, fastPath: Bool) async -> Response {
        switch begin(request, body: consume body, channel: channel, logger: logger, fastPath: fastPath) {
        case .finished(let response):
            return response
        case .waiting(let pending):
            let answer = await pending.waiter.answer()
            return finish(pending, answer: answer, logger: logger)
        }
    }

    /// A capture between ``begin(_:body:channel:logger:fastPath:)`` and
    /// ``finish(_:answer:logger:)``: what answering it needs once its answer has come.
    ///
    /// A class, so that ``respond(to:body:channel:logger:fastPath:)``'s frame holds a reference
    /// to it across the wait, not the whole capture: with it inline, that frame took one more
    /// slab of the connection task's allocator (1 KB for as long as the connection is open).
    private final class PendingCapture {
        let submission: CaptureSubmission
        let waiter: CaptureWaiter
        let registration: ClientDisconnectWatcher.Registration?
        let started: ContinuousClock.Instant
        let span: ServerSpan?

        init(submission: CaptureSubmission, waiter: CaptureWaiter, registration: ClientDisconnectWatcher.Registration?, started: ContinuousClock.Instant, span: ServerSpan?) {
            self.submission = submission
            self.waiter = waiter
            self.registration = registration
            self.started = started
            self.span = span
        }
    }

    private enum CaptureStart {
        case finished(Response)
        case waiting(PendingCapture)
    }

    /// Authenticates (on the fast path), validates, and leaves the capture for the registry; or
    /// the response when there is nothing to wait for (a refusal, a rejected body, shutdown).
    @inline(never)
    private func begin(_ request: Request, body: consuming ByteBuffer?, channel: (any Channel)?, logger: Logger, fastPath: Bool) -> CaptureStart {
        if fastPath, let authentication, let refusal = authentication.refusal(of: request) {
            return .finished(refusal.response())
        }
        let started = ContinuousClock.now
        let span = fastPath ? ServerSpan(request, route: Self.path, tracer: tracer) : nil
        switch Self.submission(from: request, body: consume body, limits: limits) {
        case .success(var submission):
            submission.traceContext = span?.context ?? InstrumentationContext.current ?? .topLevel
            submission.respondAsync = Preferences(request.headers).respondAsync
            // A client that goes away ends its wait (no task per request to cancel); the capture
            // itself goes on for its other waiters.
            let waiter = CaptureWaiter()
            let registry = self.registry
            let key = submission.key
            let registration = channel.flatMap { channel in
                disconnects.register(channel) {
                    if waiter.abandon() { Task { await registry.abandon(waiter, key: key) } }
                }
            }
            guard registry.enqueue(submission, waiter: waiter) else {
                disconnects.remove(registration)
                let outcome = CaptureOutcome(.failed(.shuttingDown(nil), replayed: false), for: submission)
                return .finished(answer(outcome, started: started, span: span, trace: submission.traceContext, logger: logger))
            }
            return .waiting(PendingCapture(submission: submission, waiter: waiter, registration: registration, started: started, span: span))
        case .failure(let error):
            let trace = span?.context ?? InstrumentationContext.current ?? .topLevel
            return .finished(answer(.rejected(error), started: started, span: span, trace: trace, logger: logger))
        }
    }

    /// The response to a capture whose answer has come.
    @inline(never)
    private func finish(_ pending: PendingCapture, answer registryAnswer: CaptureAnswer, logger: Logger) -> Response {
        disconnects.remove(pending.registration)
        let outcome = CaptureOutcome(registryAnswer, for: pending.submission)
        return answer(outcome, started: pending.started, span: pending.span, trace: pending.submission.traceContext, logger: logger)
    }

    /// Records, logs and answers an outcome, and ends the server span.
    private func answer(_ outcome: CaptureOutcome, started: ContinuousClock.Instant, span: ServerSpan?, trace: ServiceContext, logger: Logger) -> Response {
        let elapsed = started.duration(to: .now)
        metrics.record(outcome, duration: elapsed)
        outcome.log(to: logger, duration: elapsed, trace: trace, tracer: tracer)
        var response = outcome.response()
        span?.end(answering: &response)
        return response
    }

    /// The validated capture and its idempotency key, or why not (400, 413, 415). `body` is `nil`
    /// when it was larger than the limit.
    private static func submission(from request: Request, body: ByteBuffer?, limits: HTTPLimits) -> Result<CaptureSubmission, APIError> {
        do throws(APIError) {
            let idempotencyKey = try Self.idempotencyKey(of: request)
            if let contentType = Self.header(.contentType, of: request), !Self.isJSON(contentType) {
                throw APIError(
                    .unsupportedMediaType, code: "unsupported_media_type",
                    message: "the body must be JSON (Content-Type: application/json), not \(contentType)")
            }
            guard let body else {
                throw APIError(.contentTooLarge, code: "body_too_large", message: "the body is larger than \(limits.maxBodyBytes) bytes")
            }
            do {
                return .success(CaptureSubmission(try CaptureRequestDecoder.decode(Array(buffer: body)), idempotencyKey: idempotencyKey))
            } catch {
                throw APIError(.badRequest, code: error.code, message: error.message, field: error.field)
            }
        } catch {
            return .failure(error)
        }
    }

    /// The `Idempotency-Key` header: 1 to 255 visible ASCII characters, or absent.
    private static func idempotencyKey(of request: Request) throws(APIError) -> String? {
        guard let key = header(.idempotencyKey, of: request) else { return nil }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError(
                .badRequest, code: "invalid_idempotency_key",
                message: "the Idempotency-Key header must be 1 to 255 visible ASCII characters", field: "Idempotency-Key")
        }
        return key
    }

    /// A header's value as `HTTPFields`' subscript gives it (several fields of the name joined by
    /// commas), without the subscript's join for the usual one field: it builds a new string
    /// each time, and a capture reads two headers.
    static func header(_ name: HTTPField.Name, of request: Request) -> String? {
        let fields = request.headers
        guard let first = fields.firstIndex(where: { $0.name == name }) else { return nil }
        guard fields[fields.index(after: first)...].contains(where: { $0.name == name }) else { return fields[first].value }
        return fields[name]
    }

    /// Whether a Content-Type names JSON: `application/json` or `application/…+json`, in any
    /// case, parameters ignored. On the UTF-8 bytes: Unicode-aware trimming and lowercasing of
    /// the header cost 2.7% of serve's CPU per capture in a profile.
    static func isJSON(_ contentType: String) -> Bool {
        let bytes = contentType.utf8
        var start = bytes.startIndex
        var end = bytes.firstIndex(of: UInt8(ascii: ";")) ?? bytes.endIndex
        let isBlank = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        while start < end, isBlank(bytes[start]) { bytes.formIndex(after: &start) }
        while start < end, isBlank(bytes[bytes.index(before: end)]) { bytes.formIndex(before: &end) }
        let mediaType = bytes[start..<end].lazy.map { (byte: UInt8) -> UInt8 in
            (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) ? byte | 0x20 : byte
        }
        return mediaType.elementsEqual("application/json".utf8)
            || (mediaType.starts(with: "application/".utf8) && mediaType.reversed().starts(with: "+json".utf8.reversed()))
    }
}
