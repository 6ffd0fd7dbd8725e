@testable import Kafka
import Testing

/// The `local` profile's rising fetch wait, handed observations directly; the live test is in
/// `LocalProfileDurabilityTests`.
@Suite("Fetch stalls (the local broker's fetch deadline)")
struct FetchStallWatchTests {
    /// What `watch` answers to each (behind, progressed) observation in turn.
    private func answers(_ observations: [(behind: Bool, progressed: Bool)], patience: Int) -> [Bool] {
        var watch = FetchStallWatch(patience: patience)
        return observations.map { watch.check(behind: $0.behind, progressed: $0.progressed) }
    }

    @Test("records waiting and none read for as many checks as the patience: the wait rises, then the count starts again")
    func risesAfterPatience() {
        let stalled = Array(repeating: (behind: true, progressed: false), count: 6)
        #expect(answers(stalled, patience: 3) == [false, false, true, false, false, true])
    }

    @Test("a record read, a pause or nothing waiting starts the count again")
    func progressResets() {
        let observations = [(true, false), (true, true), (true, false), (false, false), (true, false), (true, false)]
        #expect(answers(observations.map { (behind: $0.0, progressed: $0.1) }, patience: 2) == [false, false, false, false, false, true])
    }

    @Test("a consumer that is not behind never raises the wait, however long nothing arrives")
    func idleIsNoStall() {
        let idle = Array(repeating: (behind: false, progressed: false), count: 100)
        #expect(!answers(idle, patience: 1).contains(true))
    }

    @Test("the wait rises fourfold to librdkafka's default and no further")
    func raisedWaits() {
        var waits: [Int] = []
        var current = 5
        while let next = FetchStallWatch.raisedWait(from: current) {
            waits.append(next)
            current = next
        }
        #expect(waits == [20, 80, 320, 500])
        #expect(FetchStallWatch.raisedWait(from: 0) == 4)
        #expect(FetchStallWatch.raisedWait(from: 800) == nil)
    }
}
