import JSONText
import Payments

/// What the processor decided for a transaction, independent of any one request: the value of
/// its record in the verdict journal.
struct Verdict: Sendable, Hashable {
    let status: CaptureStatus
    let authorizationCode: String?
    let errorCode: String?
    let errorMessage: String?

    init(_ response: CaptureResponse) {
        status = response.status
        authorizationCode = response.authorizationCode
        errorCode = response.errorCode
        errorMessage = response.errorMessage
    }

    /// The answer to one request of the transaction.
    func response(correlationID: CorrelationID, transactionID: String) -> CaptureResponse {
        CaptureResponse(
            correlationID: correlationID, transactionID: transactionID, status: status, authorizationCode: authorizationCode,
            errorCode: errorCode, errorMessage: errorMessage)
    }

    /// The journal record's value: `{"authorization_code":…,"error_code":…,"error_message":…,"status":…}`,
    /// absent fields left out, keys sorted.
    var jsonBytes: [UInt8] {
        var writer = JSONWriter(capacity: 96)
        writer.beginObject()
        writer.member("authorization_code", authorizationCode)
        writer.member("error_code", errorCode)
        writer.member("error_message", errorMessage)
        writer.member("status", status.text)
        writer.endObject()
        return writer.bytes
    }

    /// Reads a journal record's value; `nil` when it is not a verdict.
    init?(json bytes: [UInt8]) {
        guard case .object(let object)? = try? JSONParser.parse(bytes), case .string(let status)? = object["status"] else { return nil }
        func text(_ name: String) -> String? {
            if case .string(let value)? = object[name] { return value }
            return nil
        }
        self.status = CaptureStatus(status)
        authorizationCode = text("authorization_code")
        errorCode = text("error_code")
        errorMessage = text("error_message")
    }
}
