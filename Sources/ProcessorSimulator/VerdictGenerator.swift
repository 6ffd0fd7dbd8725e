import Operations
import Payments
import Synchronization

/// Decides approvals the way the original simulator did: approve at the configured rate with a
/// six-digit authorization code, otherwise decline with `payment_declined`.
public final class VerdictGenerator: Sendable {
    private let approvalRate: Double
    private let random: Mutex<SplitMix64>

    /// - Parameter seed: makes the verdicts repeatable (tests); by default a seed from the
    ///   system's generator.
    public init(approvalRate: Double, seed: UInt64? = nil) {
        self.approvalRate = min(1, max(0, approvalRate))
        var system = SystemRandomNumberGenerator()
        self.random = Mutex(SplitMix64(seed: seed ?? system.next()))
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

