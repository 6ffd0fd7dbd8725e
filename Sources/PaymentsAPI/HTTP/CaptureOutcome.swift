import HTTPTypes
import Hummingbird
import Instrumentation
import Logging
import Operations
import Payments
import Tracing

/// How one capture request ended, for its response, its log line and its metrics.
enum CaptureOutcome: Sendable {
    case answered(CaptureResponse, replayed: Bool)
    case failed(CaptureError, CaptureRequest, replayed: Bool)
    case rejected(APIError)
    /// Under way and not waited for (`Prefer: respond-async`).
    case accepted(CorrelationID, replayed: Bool)

    /// What the registry answered for `submission`.
    init(_ answer: CaptureAnswer, for submission: CaptureSubmission) {
        switch answer {
        case .answered(let response, let replayed):
            self = .answered(response, replayed: replayed)
        case .failed(let error, let replayed):
            self = .failed(error, submission.request, replayed: replayed)
        case .conflict:
            self = .rejected(
                APIError(
                    .unprocessableContent, code: "idempotency_key_reused",
                    message: "this idempotency key (or transaction id) was already used for a different request",
                    field: submission.keyIsExplicit ? "Idempotency-Key" : "transaction_id"))
        case .accepted(let id, let replayed):
            self = .accepted(id, replayed: replayed)
        }
    }

    /// Where the outcome of a capture can be asked for.
    static func statusPath(_ id: CorrelationID) -> String { "/api/v1/payments/\(id.rawValue)" }

    /// The label used in metrics and logs: approved, declined, timeout, rejected, unavailable,
    /// error, client_gone or accepted.
    var label: String {
        switch self {
        case .answered(let response, _):
            switch response.status {
            case .approved: "approved"
            case .declined: "declined"
            case .expired: "timeout"
            case .error, .other: "error"
            }
        case .failed(let error, _, _):
            switch error {
            case .timedOut: "timeout"
            case .unavailable, .overloaded, .shuttingDown: "unavailable"
            case .processorError: "error"
            case .clientGone: "client_gone"
            }
        case .rejected: "rejected"
        case .accepted: "accepted"
        }
    }

    func response() -> Response {
        switch self {
        case .answered(let response, let replayed):
            switch response.status {
            case .approved, .declined:
                var headers: HTTPFields = [:]
                if replayed { headers[.idempotentReplayed] = "true" }
                return JSONResponse.make(status: .ok, body: response, headers: headers)
            case .expired:
                let path = Self.statusPath(response.correlationID)
                return APIError(
                    .gatewayTimeout, code: "deadline_exceeded",
                    message: "the processor got the request after its deadline and did not process it; nothing was captured, a retry is safe",
                    correlationID: response.correlationID, statusURL: path, headers: Self.replayHeaders(replayed, [.location: path])
                ).response()
            case .error, .other:
                let detail = [response.errorCode, response.errorMessage].compactMap { $0 }.joined(separator: ": ")
                return APIError(
                    .badGateway, code: "processor_error",
                    message: "the processor answered with status \"\(response.status)\"\(detail.isEmpty ? "" : " (\(detail))")",
                    correlationID: response.correlationID, headers: Self.replayHeaders(replayed, [:])
                ).response()
            }
        case .failed(let error, _, let replayed):
            var apiError = Self.apiError(for: error)
            apiError.headers = Self.replayHeaders(replayed, apiError.headers)
            return apiError.response()
        case .rejected(let error):
            return error.response()
        case .accepted(let id, let replayed):
            let path = Self.statusPath(id)
            let headers = Self.replayHeaders(replayed, [.location: path, .preferenceApplied: "respond-async", .retryAfter: "1"])
            return JSONResponse.make(status: .accepted, body: PendingCapture(correlationID: id, statusURL: path), headers: headers)
        }
    }

    /// Marks an answer shared with an earlier or concurrent request of the same key.
    private static func replayHeaders(_ replayed: Bool, _ headers: HTTPFields) -> HTTPFields {
        var headers = headers
        if replayed { headers[.idempotentReplayed] = "true" }
        return headers
    }

    static func apiError(for error: CaptureError) -> APIError {
        switch error {
        case .unavailable(let reason):
            return APIError(
                .serviceUnavailable, code: "broker_unavailable", message: "the capture was not sent: \(reason); it is safe to retry",
                headers: [.retryAfter: "1"])
        case .overloaded(let limit):
            return APIError(
                .serviceUnavailable, code: "too_many_pending",
                message: "this replica already has \(limit) captures waiting; the capture was not sent, retry shortly",
                headers: [.retryAfter: "1"])
        case .timedOut(let id):
            return APIError(
                .gatewayTimeout, code: "processor_timeout",
                message: "no answer from the processor in time; the capture may still complete: ask status_url for its outcome",
                correlationID: id, statusURL: statusPath(id), headers: [.location: statusPath(id)])
        case .shuttingDown(.none):
            return APIError(
                .serviceUnavailable, code: "shutting_down", message: "this replica is shutting down; the capture was not sent, retry",
                headers: [.retryAfter: "1", .connection: "close"])
        case .shuttingDown(.some(let id)):
            return APIError(
                .serviceUnavailable, code: "shutting_down",
                message: "this replica is shutting down; the capture may still complete: retry with the same idempotency key",
                correlationID: id, statusURL: statusPath(id), headers: [.retryAfter: "1"])
        case .processorError(let id, let reason):
            return APIError(.badGateway, code: "processor_error", message: reason, correlationID: id)
        case .clientGone(let id):
            // Nobody reads this: the connection is closed.
            return APIError(.init(code: 499, reasonPhrase: "Client Closed Request"), code: "client_gone", message: "client went away", correlationID: id)
        }
    }

    func log(to logger: Logger, duration: Duration, trace: ServiceContext, tracer: any Tracer) {
        // The metadata costs more than the check: build none for a line that is not written
        // (2% of serve's CPU per capture at `notice`).
        guard logger.logLevel <= .info else { return }
        var metadata: Logger.Metadata = [
            "outcome": "\(label)",
            "duration_ms": "\(duration.wholeMilliseconds)",
        ]
        switch self {
        case .answered(let response, let replayed):
            metadata["correlation_id"] = "\(response.correlationID)"
            metadata["transaction_id"] = "\(response.transactionID)"
            if replayed { metadata["replayed"] = "true" }
        case .failed(let error, let request, let replayed):
            if replayed { metadata["replayed"] = "true" }
            metadata["transaction_id"] = "\(request.transactionID)"
            if let id = error.correlationID { metadata["correlation_id"] = "\(id)" }
            metadata["reason"] = "\(Self.apiError(for: error).body.errorMessage)"
        case .rejected(let error):
            metadata["error_code"] = "\(error.body.errorCode)"
        case .accepted(let id, let replayed):
            metadata["correlation_id"] = "\(id)"
            if replayed { metadata["replayed"] = "true" }
        }
        if let traceID = TraceHeaders.traceID(of: trace, using: tracer) {
            metadata["trace_id"] = "\(traceID)"
        }
        logger.info("capture", metadata: metadata)
    }
}

extension HTTPField.Name {
    /// Set on an answer shared with an earlier or concurrent request of the same idempotency key.
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    static let idempotencyKey = Self("Idempotency-Key")!
    /// RFC 7240.
    static let prefer = Self("Prefer")!
    static let preferenceApplied = Self("Preference-Applied")!
}
