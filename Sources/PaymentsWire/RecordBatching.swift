/// When a capture's record (its request in `serve`, its verdict and reply in a processor) may
/// wait briefly on the producer's lingering client (`LingeringClient` in the Kafka wrapper) to
/// share a produce request with others.
public enum RecordBatching {
    /// How many other captures in progress make a record linger: with a capture's round trip
    /// about 7 ms on the local broker, 8 others mean about one more record per millisecond, so
    /// another within the linger. Below that a record goes at once, so one client at a time sees
    /// no linger at all.
    public static let lingerWhenOthersInProgress = 8

    /// Whether a record produced while `othersInProgress` other captures are in progress may
    /// linger.
    public static func mayLinger(othersInProgress: Int) -> Bool {
        othersInProgress >= lingerWhenOthersInProgress
    }
}
