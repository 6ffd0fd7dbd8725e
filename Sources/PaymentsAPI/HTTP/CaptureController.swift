import Foundation
import Hummingbird
import Logging
import NIOCore
import Payments

/// `POST /api/v1/payments/capture`: validates the body, hands the capture to the correlation
/// registry, and answers with the processor's verdict or a JSON error.
struct CaptureController: Sendable {
    let registry: CorrelationRegistry
    let limits: HTTPLimits
    let disconnects: ClientDisconnectWatcher
    let metrics: CaptureMetrics

    func addRoutes(to group: RouterGroup<DemoSyncRequestContext>) {
        group.post("capture", use: capture)
    }

    @Sendable func capture(request: Request, context: DemoSyncRequestContext) async throws -> Response {
        let started = ContinuousClock.now
        var request = request
        let outcome: CaptureOutcome
        do throws(APIError) {
            let idempotencyKey = try Self.idempotencyKey(of: request)
            let captureRequest = try await readCaptureRequest(&request)
            outcome = await submit(CaptureSubmission(captureRequest, idempotencyKey: idempotencyKey), channel: context.channel)
        } catch {
            outcome = .rejected(error)
        }
        let elapsed = started.duration(to: .now)
        metrics.record(outcome, duration: elapsed)
        outcome.log(to: context.logger, duration: elapsed)
        return try outcome.response()
    }

    /// Waits for the capture's answer through the registry. A client that goes away ends its
    /// wait (no task per request to cancel); the capture itself goes on for its other waiters.
    private func submit(_ submission: CaptureSubmission, channel: (any Channel)?) async -> CaptureOutcome {
        let waiter = CaptureWaiter()
        let registry = self.registry
        let registration = channel.flatMap { channel in
            disconnects.register(channel) {
                if waiter.abandon() { Task { await registry.abandon(waiter, key: submission.key) } }
            }
        }
        defer { disconnects.remove(registration) }
        switch await registry.capture(submission, waiter: waiter) {
        case .answered(let response, let replayed):
            return .answered(response, replayed: replayed)
        case .failed(let error, let replayed):
            return .failed(error, submission.request, replayed: replayed)
        case .conflict:
            return .rejected(
                APIError(
                    .unprocessableContent, code: "idempotency_key_reused",
                    message: "this idempotency key (or transaction id) was already used for a different request",
                    field: submission.keyIsExplicit ? "Idempotency-Key" : "transaction_id"))
        }
    }

    /// The `Idempotency-Key` header: 1 to 255 visible ASCII characters, or absent.
    private static func idempotencyKey(of request: Request) throws(APIError) -> String? {
        guard let key = request.headers[.idempotencyKey] else { return nil }
        guard (1...255).contains(key.utf8.count), key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw APIError(
                .badRequest, code: "invalid_idempotency_key",
                message: "the Idempotency-Key header must be 1 to 255 visible ASCII characters", field: "Idempotency-Key")
        }
        return key
    }

    /// Reads and validates the body: 415 for a body that does not claim to be JSON, 413 when it
    /// is larger than the limit, 400 with the validation code otherwise.
    private func readCaptureRequest(_ request: inout Request) async throws(APIError) -> CaptureRequest {
        if let contentType = request.headers[.contentType], !Self.isJSON(contentType) {
            throw APIError(
                .unsupportedMediaType, code: "unsupported_media_type",
                message: "the body must be JSON (Content-Type: application/json), not \(contentType)")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maxBodyBytes)
        } catch {
            throw APIError(.contentTooLarge, code: "body_too_large", message: "the body is larger than \(limits.maxBodyBytes) bytes")
        }
        do {
            return try CaptureRequestDecoder.decode(Array(buffer: body))
        } catch {
            throw APIError(.badRequest, code: error.code, message: error.message, field: error.field)
        }
    }

    private static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}

/// Limits on what a client may send.
public struct HTTPLimits: Sendable, Hashable {
    /// Largest capture body accepted; larger ones get 413.
    public var maxBodyBytes: Int
    /// Largest header section accepted (all fields together); a larger one closes the connection
    /// with 400.
    public var maxHeaderBytes: Int

    public init(maxBodyBytes: Int = 64 * 1024, maxHeaderBytes: Int = 16 * 1024) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
    }
}
