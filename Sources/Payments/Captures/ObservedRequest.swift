/// A capture request as read back from the request topic: which capture it belongs to and under
/// which attempt it went out. Every replica reads them all, so that a retry on any replica finds
/// the request another one sent.
public struct ObservedRequest: Sendable, Hashable {
    /// The idempotency name the sender gave it (`Idempotency-Key`, else the transaction id).
    public var key: String
    /// ``CaptureFingerprint`` of the request as it travels.
    public var fingerprint: String
    public var correlationID: CorrelationID
    /// When it was produced, in milliseconds since the Unix epoch, when the record says.
    public var producedAtMilliseconds: Int64?

    public init(key: String, fingerprint: String, correlationID: CorrelationID, producedAtMilliseconds: Int64?) {
        self.key = key
        self.fingerprint = fingerprint
        self.correlationID = correlationID
        self.producedAtMilliseconds = producedAtMilliseconds
    }
}
