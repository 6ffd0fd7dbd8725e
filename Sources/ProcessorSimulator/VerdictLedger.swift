import Payments

/// The simulator's memory of what it decided for each transaction, so that a repeated
/// transaction id gets its original verdict and authorization code: a retried or duplicated
/// capture is never a second payment, even when two API replicas both sent it.
///
/// Verdicts are persisted to a compacted Kafka topic before they are answered (see
/// ``VerdictJournal``), and every simulator instance reads that topic, so the memory survives
/// restarts and is shared. Requests for one transaction go to one partition, and so to one
/// simulator at a time; within a simulator, concurrent requests for the same transaction wait
/// for the first one's decision.
actor VerdictLedger {
    private let known: BoundedStore<String, Verdict>
    private var deciding: [String: [CheckedContinuation<Verdict?, Never>]] = [:]

    init(capacity: Int) {
        known = BoundedStore(capacity: capacity, maximumAge: .seconds(365 * 24 * 3_600))
    }

    /// The verdict already given for `transactionID`, if any.
    nonisolated func verdict(for transactionID: String) -> Verdict? {
        known.value(for: transactionID)
    }

    /// Records a verdict learned from the journal (this instance's or another's).
    nonisolated func learn(_ verdict: Verdict, for transactionID: String) {
        known.insert(verdict, for: transactionID)
    }

    /// The verdict for `transactionID`: the known one, the one being decided by a concurrent
    /// request (waited for), or a new one from `decide`, which must persist it before returning.
    /// `decide` returns `nil` when it could not decide (shutdown); waiters then get `nil` too.
    func decideOnce(for transactionID: String, decide: @Sendable () async -> Verdict?) async -> Verdict? {
        if let verdict = known.value(for: transactionID) { return verdict }
        if deciding[transactionID] != nil {
            return await withCheckedContinuation { deciding[transactionID, default: []].append($0) }
        }
        deciding[transactionID] = []
        let verdict = await decide()
        if let verdict { known.insert(verdict, for: transactionID) }
        let waiters = deciding.removeValue(forKey: transactionID) ?? []
        waiters.forEach { $0.resume(returning: verdict) }
        return verdict
    }
}

/// What the processor decided for a transaction, independent of any one request.
struct Verdict: Sendable, Hashable, Codable {
    let status: CaptureStatus
    let authorizationCode: String?
    let errorCode: String?
    let errorMessage: String?

    enum CodingKeys: String, CodingKey {
        case status
        case authorizationCode = "authorization_code"
        case errorCode = "error_code"
        case errorMessage = "error_message"
    }

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
}
