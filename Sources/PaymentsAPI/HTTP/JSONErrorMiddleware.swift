import HTTPTypes
import Hummingbird

/// Turns Hummingbird's own errors (no such route, and any other `HTTPError`) into the same JSON
/// error body as every other failure, so clients parse one shape.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            // The router knows paths by method: a known path with another method is a 405.
            if let allowed = KnownPaths.api.allowedMethods(for: request.uri.path) {
                throw APIError(
                    .methodNotAllowed, code: "method_not_allowed", message: "\(request.method) is not allowed here; use \(allowed)",
                    headers: [.allow: allowed])
            }
            throw APIError(.notFound, code: "not_found", message: "no such resource")
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

/// The API's paths and the methods each takes, so that any other method on them (including ones
/// the router has never heard of, such as `QUERY`) gets 405 with `Allow` rather than 404.
struct KnownPaths: Sendable {
    struct Entry: Sendable {
        /// Path segments; `nil` matches any one segment.
        let segments: [String?]
        let allowed: String
    }

    let entries: [Entry]

    static let api = KnownPaths(entries: [
        Entry(segments: ["api", "v1", "payments", "capture"], allowed: "POST"),
        Entry(segments: ["api", "v1", "payments", nil], allowed: "GET, HEAD"),
        Entry(segments: ["health", "live"], allowed: "GET, HEAD"),
        Entry(segments: ["health", "ready"], allowed: "GET, HEAD"),
        Entry(segments: ["metrics"], allowed: "GET, HEAD"),
    ])

    /// The methods `path` takes, or `nil` when it is not one of ours.
    func allowedMethods(for path: String) -> String? {
        let segments = path.split(separator: "/").map(String.init)
        return entries.first { entry in
            entry.segments.count == segments.count && zip(entry.segments, segments).allSatisfy { $0 == nil || $0 == $1 }
        }?.allowed
    }
}
