import Hummingbird
import Logging
import Payments

/// How one capture request ended, for its response, its log line and its metrics.
enum CaptureOutcome: Sendable {
    case answered(CaptureResponse)
    case failed(CaptureError, CaptureRequest)
    case rejected(APIError)

    init(_ result: Result<CaptureResponse, CaptureError>, request: CaptureRequest, correlationID: CorrelationID) {
        switch result {
        case .success(let response): self = .answered(response)
        case .failure(let error): self = .failed(error, request)
        }
    }

    /// The label used in metrics and logs: approved, declined, timeout, rejected, unavailable,
    /// error or client_gone.
    var label: String {
        switch self {
        case .answered(let response):
            switch response.status {
            case .approved: "approved"
            case .declined: "declined"
            case .other: "error"
            }
        case .failed(let error, _):
            switch error {
            case .timedOut: "timeout"
            case .unavailable, .overloaded, .shuttingDown: "unavailable"
            case .processorError: "error"
            case .clientGone: "client_gone"
            }
        case .rejected: "rejected"
        }
    }

    func response() throws -> Response {
        switch self {
        case .answered(let response):
            switch response.status {
            case .approved, .declined:
                return JSONResponse.make(status: .ok, body: response)
            case .other(let status):
                throw APIError(
                    .badGateway, code: "processor_error", message: "the processor answered with status \"\(status)\"",
                    correlationID: response.correlationID)
            }
        case .failed(let error, _):
            throw Self.apiError(for: error)
        case .rejected(let error):
            throw error
        }
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
                message: "no answer from the processor in time; the capture may still complete", correlationID: id)
        case .shuttingDown(let id):
            return APIError(
                .serviceUnavailable, code: "shutting_down",
                message: "this replica is shutting down; the capture may still complete", correlationID: id,
                headers: [.retryAfter: "1"])
        case .processorError(let id, let reason):
            return APIError(.badGateway, code: "processor_error", message: reason, correlationID: id)
        case .clientGone(let id):
            // Nobody reads this: the connection is closed.
            return APIError(.init(code: 499, reasonPhrase: "Client Closed Request"), code: "client_gone", message: "client went away", correlationID: id)
        }
    }

    func log(to logger: Logger, duration: Duration) {
        var metadata: Logger.Metadata = [
            "outcome": "\(label)",
            "duration_ms": "\(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)",
        ]
        switch self {
        case .answered(let response):
            metadata["correlation_id"] = "\(response.correlationID)"
            metadata["transaction_id"] = "\(response.transactionID)"
        case .failed(let error, let request):
            metadata["transaction_id"] = "\(request.transactionID)"
            if let id = error.correlationID { metadata["correlation_id"] = "\(id)" }
            metadata["reason"] = "\(Self.apiError(for: error).body.errorMessage)"
        case .rejected(let error):
            metadata["error_code"] = "\(error.body.errorCode)"
        }
        logger.info("capture", metadata: metadata)
    }
}

extension CaptureError {
    /// The correlation id, when the request got as far as being assigned one.
    var correlationID: CorrelationID? {
        switch self {
        case .timedOut(let id), .shuttingDown(let id), .processorError(let id, _), .clientGone(let id): id
        case .unavailable, .overloaded: nil
        }
    }
}
