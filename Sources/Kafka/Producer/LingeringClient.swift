/// A second librdkafka client in a ``KafkaProducer``, with a linger, for the records its caller
/// hands over with `mayLinger`: batching where the caller knows more records are coming, and
/// none where it does not.
///
/// One client cannot do both: librdkafka's linger is fixed per client. With no linger, records
/// that arrive in a burst are split: the first goes alone and the rest wait for its
/// acknowledgement (one request in flight) or go in requests of their own. With a linger, every
/// record waits, one that is alone too. The caller knows which case it is in (a server with many
/// requests in progress expects more soon); the producer does not.
///
/// The two clients have their own connections, so records of one key may reach the broker out
/// of order when handed over close together through different clients: use it only where
/// nothing depends on that order.
public struct LingeringClient: Sendable {
    /// How long the lingering client waits for more records (its `linger.ms`).
    public var linger: Duration
    /// The lingering client's statistics; the first client's go to the producer's handler.
    public var statisticsHandler: (@Sendable (KafkaStatistics) -> Void)?

    public init(linger: Duration, statisticsHandler: (@Sendable (KafkaStatistics) -> Void)? = nil) {
        self.linger = linger
        self.statisticsHandler = statisticsHandler
    }

    /// `linger.ms` for librdkafka, which takes fractions of a millisecond.
    var lingerMilliseconds: String {
        let (seconds, attoseconds) = linger.components
        return "\(Double(seconds) * 1_000 + Double(attoseconds) / 1e15)"
    }
}
