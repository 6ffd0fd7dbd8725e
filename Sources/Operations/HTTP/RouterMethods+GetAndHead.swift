import Hummingbird

extension RouterMethods {
    /// Adds `handler` for GET on `path`, and for HEAD with the same status and headers but no body
    /// (RFC 9110 §9.3.2: a server supports HEAD wherever it supports GET; load balancers and uptime
    /// checkers often probe with it).
    @discardableResult
    public func getAndHead<Output: ResponseGenerator>(
        _ path: RouterPath, use handler: @Sendable @escaping (Request, Context) async throws -> Output
    ) -> Self {
        get(path, use: handler)
        return head(path) { request, context in
            let response = try await handler(request, context).response(from: request, context: context)
            return Response(status: response.status, headers: response.headers)
        }
    }
}
