import AsyncHTTPClient
import NIOCore
import NIOSSL
import Foundation
import Payments
import PaymentsClient

/// `demosync capture`: posts one capture and prints the answer.
enum CaptureCommand {
    static let specification = CommandSpecification(
        name: "capture",
        summary: "Posts one capture to the API and prints the response JSON on standard output.",
        options: [
            .value("amount", "DECIMAL", help: "Amount to capture, such as 100.50 (required)."),
            .value("currency", "CODE", default: "BRL", help: "ISO 4217 currency code."),
            .value("transaction-id", "ID", help: "Transaction id. Default: a new tx_ id."),
            .value("metadata", "KEY=VALUE", repeatable: true, help: "A metadata entry."),
            .value("url", "URL", environment: ["DEMOSYNC_API_URL"], default: "http://127.0.0.1:8080", help: "The API's address."),
            .value(
                "timeout", "DURATION", environment: ["DEMOSYNC_CLIENT_TIMEOUT_MS"], default: "35s",
                help: "How long to wait for the answer: milliseconds, or 500ms, 35s, 1m."),
            .value(
                "idempotency-key", "KEY",
                help: "Names the capture for retries (Idempotency-Key header). Default: the transaction id names it."),
            .value(
                "ca-file", "PEM", environment: ["DEMOSYNC_CA_FILE"],
                help: "For an https:// --url: trust the certificate authorities in this PEM file (instead of the system's)."),
            .value("token", "TOKEN", environment: ["DEMOSYNC_API_TOKEN"], help: "Bearer token, when the API requires one."),
            .value("traceparent", "TRACEPARENT", help: "A W3C traceparent to continue (sent as the traceparent header)."),
            .flag("async", help: "Do not wait for the verdict (Prefer: respond-async): print the 202 with its status_url and exit 6."),
            .value(
                "wait", "DURATION",
                help: "With --async: then ask status_url for the outcome, holding up to this long for it (Prefer: wait), e.g. 10s."),
        ],
        epilogue: """
            Exit codes:
              0  approved
              1  error (request refused with 4xx, 5xx other than 503/504, API unreachable)
              2  usage error
              3  declined
              4  timeout (504, or no answer within --timeout); the capture may still complete
              5  unavailable (503): the capture was not sent, retrying is safe
              6  pending (202, with --async): under way, no verdict yet; ask status_url later
            """)

    static func run(_ options: ParsedOptions) async throws -> Int32 {
        guard let amount = try options.amount("amount") else {
            throw UsageError("--amount is required, for example --amount 100.50", command: "capture")
        }
        guard amount.isPositive else {
            throw UsageError("invalid value \"\(amount)\" for --amount: expected an amount above zero", command: "capture")
        }
        let currencyText = options.string("currency", default: "BRL")
        guard let currency = CurrencyCode(currencyText) else {
            throw UsageError("invalid value \"\(currencyText)\" for --currency: expected three upper-case letters such as BRL", command: "capture")
        }
        let metadata = try options.pairs("metadata")
        var metadataDictionary: [String: String] = [:]
        for (key, value) in metadata { metadataDictionary[key] = value }
        let transactionID = options.string("transaction-id") ?? "tx_\(UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(16))"
        let url = options.string("url", default: "http://127.0.0.1:8080")
        guard let parsedURL = URL(string: url), let scheme = parsedURL.scheme, ["http", "https"].contains(scheme), parsedURL.host != nil else {
            throw UsageError("invalid value \"\(url)\" for --url: expected an http:// or https:// address", command: "capture")
        }
        let timeout = try options.duration("timeout", default: .seconds(35), allowZero: false)
        let respondAsync = try options.flag("async")
        let wait = try options.string("wait").map { _ in try options.duration("wait", default: .zero) }
        if wait != nil, !respondAsync {
            throw UsageError("--wait goes with --async (without it, capture waits for the verdict anyway)", command: "capture")
        }

        let request = CaptureRequest(
            transactionID: transactionID, amount: amount, currency: currency, metadata: metadata.isEmpty ? nil : metadataDictionary)
        let httpClient = try Self.httpClient(trusting: options.string("ca-file"))
        let answer: Result<CaptureResult, any Error>
        do {
            var headers: [(String, String)] = []
            if let key = options.string("idempotency-key") { headers.append(("Idempotency-Key", key)) }
            if let token = options.string("token") { headers.append(("Authorization", "Bearer \(token)")) }
            if let traceparent = options.string("traceparent") { headers.append(("traceparent", traceparent)) }
            if respondAsync { headers.append(("Prefer", "respond-async")) }
            let client = PaymentsAPIClient(baseURL: url, httpClient: httpClient)
            let accepted = try await client.capture(request, timeout: timeout, headers: headers)
            if let wait, accepted.kind == .pending, let statusPath = accepted.header("Location") {
                // Hold for the outcome on the status URL (RFC 7240 `Prefer: wait`).
                var statusHeaders = headers.filter { $0.0 == "Authorization" }
                statusHeaders.append(("Prefer", "wait=\(wait.components.seconds)"))
                answer = .success(try await client.get(path: statusPath, timeout: wait + .seconds(10), headers: statusHeaders))
            } else {
                answer = .success(accepted)
            }
        } catch {
            answer = .failure(error)
        }
        if httpClient !== PaymentsAPIClient.sharedHTTPClient { try? await httpClient.shutdown() }
        let result: CaptureResult
        switch answer {
        case .success(let answered):
            result = answered
        case .failure(let error as HTTPClientError) where error == .deadlineExceeded || error == .readTimeout:
            printError("no answer from \(url) within \(timeout); the capture may still complete")
            return ExitCode.timedOut
        case .failure(let error):
            printError("cannot reach the API at \(url): \(error)")
            return ExitCode.failure
        }
        print(result.bodyText)
        switch result.kind {
        case .approved: return ExitCode.success
        case .declined: return ExitCode.declined
        case .timedOut: return ExitCode.timedOut
        case .unavailable: return ExitCode.unavailable
        case .pending: return ExitCode.pending
        case .rejected, .failed:
            printError("the API answered \(result.status): \(result.error?.errorMessage ?? result.bodyText)")
            return ExitCode.failure
        }
    }
}

extension CaptureCommand {
    /// The shared client, or one that trusts the authorities in `caFile` (an error naming the file
    /// when it cannot be read).
    static func httpClient(trusting caFile: String?) throws -> HTTPClient {
        guard let caFile else { return PaymentsAPIClient.sharedHTTPClient }
        let authorities: [NIOSSLCertificate]
        do {
            authorities = try NIOSSLCertificate.fromPEMFile(caFile)
        } catch {
            throw UsageError("cannot read --ca-file \(caFile): \(error)", command: "capture")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .certificates(authorities)
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.connectionPool = .init(idleTimeout: .seconds(60))
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }
}

/// Writes a line to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("demosync: \(message)\n".utf8))
}
