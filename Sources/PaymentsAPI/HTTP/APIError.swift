import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Payments

/// An error answer: an HTTP status, a machine-readable code and a human message, as JSON.
///
/// The body uses the same `error_code` / `error_message` names as a declined capture, plus the
/// correlation id when one was assigned, so a client reads every failure the same way.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let body: APIErrorBody
    public var headers: HTTPFields

    public init(
        _ status: HTTPResponse.Status, code: String, message: String, field: String? = nil,
        correlationID: CorrelationID? = nil, statusURL: String? = nil, headers: HTTPFields = [:]
    ) {
        self.status = status
        self.body = APIErrorBody(
            errorCode: code, errorMessage: message, field: field, correlationID: correlationID?.rawValue, statusURL: statusURL)
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The error as an HTTP response.
    public func response() -> Response {
        JSONResponse.make(status: status, body: body, headers: headers)
    }
}

/// Builds JSON responses with our encoder settings.
enum JSONResponse {
    static func make(status: HTTPResponse.Status, body: some Encodable, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = "application/json; charset=utf-8"
        let bytes = (body as? any WireEncodable)?.jsonBytes ?? (try? WireJSON.encode(body)) ?? Array(#"{"error_code":"internal_error"}"#.utf8)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}
