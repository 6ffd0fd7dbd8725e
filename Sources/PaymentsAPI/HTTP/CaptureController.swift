import Foundation
import Hummingbird
import Logging
import NIOCore
import Payments

/// `POST /api/v1/payments/capture`: validates the body, hands the capture to the gateway, and
/// answers with the processor's verdict or a JSON error.
struct CaptureController: Sendable {
    let gateway: any PaymentGateway
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
            let captureRequest = try await readCaptureRequest(&request)
            let correlationID = CorrelationID.random()
            let gateway = self.gateway
            let result = await disconnects.cancellingOnDisconnect(of: context.channel) {
                () async -> Result<CaptureResponse, CaptureError> in
                do throws(CaptureError) {
                    return .success(try await gateway.capture(captureRequest, correlationID: correlationID))
                } catch {
                    return .failure(error)
                }
            }
            outcome = CaptureOutcome(result, request: captureRequest, correlationID: correlationID)
        } catch {
            outcome = .rejected(error)
        }
        let elapsed = started.duration(to: .now)
        metrics.record(outcome, duration: elapsed)
        outcome.log(to: context.logger, duration: elapsed)
        return try outcome.response()
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

    public init(maxBodyBytes: Int = 64 * 1024) {
        self.maxBodyBytes = maxBodyBytes
    }
}
