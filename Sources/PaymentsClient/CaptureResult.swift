import Foundation
import Payments

/// An answer of the payments API: its status, body and headers, and what it means.
public struct CaptureResult: Sendable {
    public let status: Int
    public let body: [UInt8]
    public let headers: [(name: String, value: String)]

    public init(status: Int, body: [UInt8], headers: [(String, String)]) {
        self.status = status
        self.body = body
        self.headers = headers.map { (name: $0.0, value: $0.1) }
    }

    /// How the capture ended, as far as the client can tell.
    public enum Kind: String, Sendable, Hashable {
        case approved
        case declined
        /// 504: the processor did not answer in time; the capture may still complete.
        case timedOut = "timeout"
        /// 503: the capture was not sent; retrying is safe.
        case unavailable
        /// 4xx: the request was refused.
        case rejected
        /// Anything else (502, 500, unreadable answer).
        case failed = "error"
        /// 202: under way, no verdict yet (`Prefer: respond-async`, or an outcome still pending).
        case pending
    }

    public var kind: Kind {
        switch status {
        case 200:
            switch response?.status {
            case .approved: .approved
            case .declined: .declined
            default: .failed
            }
        case 202: .pending
        case 504: .timedOut
        case 503: .unavailable
        case 400..<500: .rejected
        default: .failed
        }
    }

    /// The processor's answer, for a 200.
    public var response: CaptureResponse? {
        guard status == 200 else { return nil }
        return try? JSONDecoder().decode(CaptureResponse.self, from: Data(body))
    }

    /// The error body, for anything but a 200.
    public var error: APIErrorBody? {
        guard status != 200 else { return nil }
        return try? JSONDecoder().decode(APIErrorBody.self, from: Data(body))
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    /// The value of a response header (case-insensitive name).
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}
