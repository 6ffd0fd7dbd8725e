import Foundation
import Payments
import PaymentsClient
import TestSupport

/// Drives captures over HTTP from the test process, many at a time.
enum HTTPLoad {
    struct Sent: Sendable {
        let transactionID: String
        let url: String
        let result: CaptureResult
    }

    /// Posts `count` captures, round-robin over `urls`, at most `concurrency` at once.
    static func captures(count: Int, urls: [String], concurrency: Int = 64, prefix: String) async throws -> [Sent] {
        try await withThrowingTaskGroup(of: Sent.self, returning: [Sent].self) { group in
            var sent: [Sent] = []
            var next = 0
            func add() {
                let index = next
                next += 1
                let url = urls[index % urls.count]
                let transactionID = "\(prefix)-\(index)"
                group.addTask {
                    let request = CaptureRequest(
                        transactionID: transactionID, amount: Amount(exactly: "\(1 + index % 500).\(index % 100 < 10 ? "0" : "")\(index % 100)")!,
                        currency: CurrencyCode("BRL")!)
                    return Sent(transactionID: transactionID, url: url, result: try await PaymentsAPIClient(baseURL: url).capture(request, timeout: .seconds(60)))
                }
            }
            for _ in 0..<min(concurrency, count) { add() }
            while let result = try await group.next() {
                sent.append(result)
                if next < count { add() }
            }
            return sent
        }
    }
}
