/// Tells when a consumer's fetches keep coming back empty although the broker holds records
/// past where its reading got to: the decision behind the `local` profile's rising fetch wait,
/// apart from librdkafka, so that it can be checked with any sequence of observations.
///
/// The local broker (Tansu 0.6) gives up finding records that take longer than a fetch's
/// `max_wait` and answers with none, and its search lists every batch the partition holds, so a
/// short fetch wait that suits a fresh broker starves the reader for good once the partition is
/// big enough (reproduced without our client: bench/reproductions, `tansu_fetch_growth.py`; seen in
/// `make soak` at about 7,000 batches with a 5 ms wait). The futile fetches cost the broker as much
/// as useful ones, so it does not pass by itself.
struct FetchStallWatch: Sendable {
    /// Consecutive checks with records waiting and none read before the fetch wait is raised.
    let patience: Int
    private var stalledChecks = 0

    init(patience: Int) {
        self.patience = patience
    }

    /// One periodic check. `behind`: some partition's end, as the broker reported it, is past
    /// the offset expected next there. `progressed`: a record was read since the last check, or
    /// the consumer was paused (then it is not asking). Returns `true` when the fetch wait must
    /// rise, and starts counting again.
    mutating func check(behind: Bool, progressed: Bool) -> Bool {
        guard behind, !progressed else {
            stalledChecks = 0
            return false
        }
        stalledChecks += 1
        guard stalledChecks >= patience else { return false }
        stalledChecks = 0
        return true
    }

    /// The highest fetch wait it rises to: librdkafka's default.
    static let maximumWaitMilliseconds = 500

    /// The fetch wait after `current` milliseconds proved too short: four times as long, up to
    /// ``maximumWaitMilliseconds``; `nil` when it is there already.
    static func raisedWait(from current: Int) -> Int? {
        guard current < maximumWaitMilliseconds else { return nil }
        return min(max(current, 1) * 4, maximumWaitMilliseconds)
    }
}
