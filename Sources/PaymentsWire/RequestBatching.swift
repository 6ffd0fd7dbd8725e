/// When a request record may wait briefly on the producer's lingering client (see
/// `LingeringClient` in the Kafka wrapper) to share a produce request with others.
public enum RequestBatching {
    /// How many other captures in progress make a request linger: with a capture's round trip
    /// about 7 ms on the local broker, 8 others mean about one more request per millisecond, the
    /// linger. Below that a request goes at once, so one client at a time sees no linger at all.
    public static let lingerWhenOthersInProgress = 8

    /// Whether a request sent while `othersInProgress` other captures wait for their answers may
    /// linger.
    public static func mayLinger(othersInProgress: Int) -> Bool {
        othersInProgress >= lingerWhenOthersInProgress
    }
}
