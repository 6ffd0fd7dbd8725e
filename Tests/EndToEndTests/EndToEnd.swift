import Payments
import Testing
import TestSupport

/// Every end-to-end suite runs inside this one, one test at a time: each starts a broker and
/// several `demosync` processes, and on two cores running them side by side only measures the
/// machine.
@Suite("End to end", .serialized)
struct EndToEnd {
    /// A capture of `amount` BRL for `transactionID`.
    static func request(_ transactionID: String, amount: String = "12.34") -> CaptureRequest {
        CaptureRequest(transactionID: transactionID, amount: Amount(exactly: amount)!, currency: CurrencyCode("BRL")!)
    }

    /// Polls `condition` every 100 ms until it holds; throws, naming `what`, after `timeout`.
    static func waitFor(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try await !condition() {
            guard ContinuousClock.now < deadline else { throw TestSupportError("timed out waiting for \(what)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
