import Payments
import Synchronization

/// Decides approvals the way the original simulator did: approve at the configured rate with a
/// six-digit authorization code, otherwise decline with `payment_declined`.
public final class VerdictGenerator: Sendable {
    private let approvalRate: Double
    private let random: Mutex<any RandomNumberGenerator & Sendable>

    /// - Parameter random: the source of randomness; tests pass a seeded one.
    public init(approvalRate: Double, random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator()) {
        self.approvalRate = min(1, max(0, approvalRate))
        self.random = Mutex(random)
    }

    public func verdict(correlationID: CorrelationID, transactionID: String) -> CaptureResponse {
        let (approve, code) = random.withLock { generator -> (Bool, Int) in
            let roll = Double.random(in: 0..<1, using: &generator)
            return (roll < approvalRate, Int.random(in: 0...999_999, using: &generator))
        }
        guard approve else {
            return .declined(correlationID: correlationID, transactionID: transactionID)
        }
        let digits = String(code)
        let authorizationCode = String(repeating: "0", count: 6 - digits.count) + digits
        return .approved(correlationID: correlationID, transactionID: transactionID, authorizationCode: authorizationCode)
    }
}
