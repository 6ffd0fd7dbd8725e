import HTTPTypes
import Hummingbird

/// Optional API authentication: every request under the protected path prefix must carry
/// `Authorization: Bearer <token>` with one of the configured tokens, or gets 401 with
/// `WWW-Authenticate`. Tokens are compared in constant time (the comparison's duration does not
/// reveal how much of a guess was right) and never logged.
struct BearerAuthentication: Sendable {
    private let tokens: [[UInt8]]
    private let protectedPathPrefix: String

    init(tokens: [String], protectedPathPrefix: String) {
        self.tokens = tokens.map { Array($0.utf8) }
        self.protectedPathPrefix = protectedPathPrefix
    }

    /// The 401 for a request that needs a token and lacks a valid one; `nil` when it may pass.
    func refusal(of request: Request) -> APIError? {
        guard request.uri.path.hasPrefix(protectedPathPrefix) else { return nil }
        guard let presented = Self.bearerToken(in: request), tokens.contains(where: { Self.constantTimeEqual($0, presented) }) else {
            return APIError(
                .unauthorized, code: "unauthorized", message: "a valid bearer token is required (Authorization: Bearer <token>)",
                headers: [.wwwAuthenticate: #"Bearer realm="demosync""#])
        }
        return nil
    }

    private static func bearerToken(in request: Request) -> [UInt8]? {
        guard let value = request.headers[.authorization] else { return nil }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return Array(parts[1].utf8)
    }

    /// Equal length and bytes, examining every byte whatever the first difference.
    static func constantTimeEqual(_ expected: [UInt8], _ presented: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: expected.count ^ presented.count)
        for index in 0..<expected.count {
            difference |= expected[index] ^ (index < presented.count ? presented[index] : 0)
        }
        return difference == 0
    }
}

/// ``BearerAuthentication`` for the router's routes.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let authentication: BearerAuthentication

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let refusal = authentication.refusal(of: request) { throw refusal }
        return try await next(request, context)
    }
}
