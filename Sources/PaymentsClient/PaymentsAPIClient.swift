import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Payments

/// A client of the payments API, as `demosync capture` and the end-to-end tests use it.
public struct PaymentsAPIClient: Sendable {
    private let baseURL: String
    private let httpClient: HTTPClient

    /// One HTTP client for the process. Unlike `HTTPClient.shared` it opens as many connections
    /// to one host as there are concurrent requests: a capture holds its connection until the
    /// processor answers, so eight (the default) would serialise a burst.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool = .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: 2_048)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    /// - Parameter baseURL: the API's address, such as `http://127.0.0.1:8080`.
    public init(baseURL: String, httpClient: HTTPClient = PaymentsAPIClient.sharedHTTPClient) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.httpClient = httpClient
    }

    /// Posts a capture and classifies the answer.
    ///
    /// - Parameters:
    ///   - timeout: how long to wait for the whole answer, a little more than the server's own
    ///     capture timeout so that its 504 arrives before the client gives up.
    ///   - headers: extra request headers (`Idempotency-Key`, `traceparent`, ...).
    public func capture(
        _ request: CaptureRequest, timeout: Duration = .seconds(35), headers: [(String, String)] = []
    ) async throws -> CaptureResult {
        try await post(path: "/api/v1/payments/capture", body: try WireJSON.encode(request), timeout: timeout, headers: headers)
    }

    /// Posts raw bytes to a path of the API (for tests that send what a model cannot express).
    public func post(
        path: String, body: [UInt8], contentType: String = "application/json", timeout: Duration = .seconds(35),
        headers: [(String, String)] = []
    ) async throws -> CaptureResult {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.headers.add(name: "Accept", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await httpClient.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        let bytes = try await response.body.collect(upTo: 1024 * 1024)
        return CaptureResult(
            status: Int(response.status.code), body: Array(buffer: bytes),
            headers: response.headers.map { ($0.name, $0.value) })
    }

    /// Gets a path of the API.
    public func get(path: String, timeout: Duration = .seconds(10), headers: [(String, String)] = []) async throws -> CaptureResult {
        var request = HTTPClientRequest(url: baseURL + path)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await httpClient.execute(request, timeout: .nanoseconds(timeout.nanoseconds))
        let bytes = try await response.body.collect(upTo: 1024 * 1024)
        return CaptureResult(
            status: Int(response.status.code), body: Array(buffer: bytes),
            headers: response.headers.map { ($0.name, $0.value) })
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
