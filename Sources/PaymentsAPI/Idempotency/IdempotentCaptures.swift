import Payments

/// Captures named by an idempotency key: the `Idempotency-Key` header, or else the transaction
/// id. Sits between the HTTP controller and the gateway (see ``CaptureLedger``).
struct IdempotentCaptures: Sendable {
    let gateway: any PaymentGateway
    let ledger: CaptureLedger

    /// The outcome of one capture request.
    struct Result: Sendable {
        let outcome: Swift.Result<CaptureResponse, CaptureError>
        /// The answer was shared with an earlier or concurrent request of the same key.
        let replayed: Bool
    }

    /// - Throws: ``CaptureLedger/Conflict`` when the key was used for a different request.
    ///
    /// - Parameter waiter: names this caller's wait, so that ``abandon(_:)`` can end it.
    func capture(_ request: CaptureRequest, idempotencyKey: String?, waiter: CaptureLedger.Waiter) async throws(CaptureLedger.Conflict) -> Result {
        let key = idempotencyKey ?? request.transactionID
        let gateway = self.gateway
        let (outcome, replayed) = try await ledger.perform(
            key: key, fingerprint: CaptureFingerprint.of(request), waiter: waiter,
            lookUp: { correlationID in
                if case .final(let response) = await gateway.lookUp(correlationID), response.status.isVerdict {
                    return response
                }
                return nil
            },
            operation: { correlationID in
                do throws(CaptureError) {
                    return .success(try await gateway.capture(request, correlationID: correlationID, idempotencyKey: key))
                } catch {
                    return .failure(error)
                }
            })
        return Result(outcome: outcome, replayed: replayed)
    }

    /// Ends a caller's wait at once: its client went away.
    func abandon(_ waiter: CaptureLedger.Waiter) async {
        await ledger.abandon(waiter)
    }
}
