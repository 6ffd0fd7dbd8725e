import HTTPTypes
import Hummingbird

/// Turns Hummingbird's own errors (no such route, and any other `HTTPError`) into the same JSON
/// error body as every other failure, so clients parse one shape.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            let code =
                switch error.status {
                case .notFound: "not_found"
                case .methodNotAllowed: "method_not_allowed"
                case .contentTooLarge: "body_too_large"
                default: "http_error"
                }
            throw APIError(error.status, code: code, message: error.body ?? error.status.reasonPhrase, headers: error.headers)
        }
    }
}

extension Router where Context == DemoSyncRequestContext {
    /// Answers 405 with `Allow` for the methods a path does not take.
    func refuseOtherMethods(on path: RouterPath, allowing allowed: [HTTPRequest.Method]) {
        let allowHeader = allowed.map(\.rawValue).joined(separator: ", ")
        for method in [HTTPRequest.Method.get, .head, .post, .put, .patch, .delete, .options, .trace] where !allowed.contains(method) {
            on(path, method: method) { _, _ -> Response in
                throw APIError(
                    .methodNotAllowed, code: "method_not_allowed", message: "\(method) is not allowed here; use \(allowHeader)",
                    headers: [.allow: allowHeader])
            }
        }
    }
}
