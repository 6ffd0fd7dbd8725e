@testable import Kafka
import Testing

/// The local profile's gap re-reading, handed offsets directly: the order in which the local
/// broker lists concurrent producers' batches cannot be forced, so what the reader does with
/// each order is checked here, and `LocalProfileDurabilityTests` checks the whole on the broker.
@Suite("Offset gaps (the local broker's live-reader gaps)")
struct OffsetGapsTests {
    let partition = KafkaTopicPartition(topic: "replies-c", partition: 0)

    @Test("a partition just assigned at offset 0 whose first message is offset 2 is read again from 0, and 0, 1, 2 are then delivered")
    func gapBeforeTheFirstMessage() {
        var gaps = OffsetGaps(maximumRereads: 5)
        gaps.expect(partition, at: 0)
        #expect(gaps.judge(2, in: partition) == .reread(from: 0))
        #expect([0, 1, 2, 3].map { gaps.judge($0, in: partition) } == Array(repeating: .accept, count: 4))
    }

    @Test("a gap in the middle is read again from the first missing offset, as often as it persists up to the limit, then skipped")
    func gapThatPersists() {
        var gaps = OffsetGaps(maximumRereads: 3)
        gaps.expect(partition, at: 10)
        #expect(gaps.judge(10, in: partition) == .accept)
        #expect(gaps.judge(11, in: partition) == .accept)
        for _ in 0..<3 { #expect(gaps.judge(15, in: partition) == .reread(from: 12)) }
        #expect(gaps.judge(15, in: partition) == .acceptSkipping(12..<15))
        #expect(gaps.judge(16, in: partition) == .accept)
        #expect(gaps.judge(18, in: partition) == .reread(from: 17), "a new gap gets its own re-reads")
    }

    @Test("a re-read that finds the gap filled starts the count again for the next gap")
    func rereadsCountPerGap() {
        var gaps = OffsetGaps(maximumRereads: 1)
        gaps.expect(partition, at: 0)
        #expect(gaps.judge(1, in: partition) == .reread(from: 0))
        #expect(gaps.judge(0, in: partition) == .accept)
        #expect(gaps.judge(1, in: partition) == .accept)
        #expect(gaps.judge(3, in: partition) == .reread(from: 2))
    }

    @Test("nothing expected (a group member's partition without a committed offset, or forgotten): the first message is taken as it comes")
    func nothingExpected() {
        var gaps = OffsetGaps(maximumRereads: 5)
        #expect(gaps.judge(7, in: partition) == .accept)
        #expect(gaps.judge(9, in: partition) == .reread(from: 8))
        gaps.forget([partition])
        #expect(gaps.judge(9, in: partition) == .accept)
        let other = KafkaTopicPartition(topic: "replies-c", partition: 1)
        gaps.expect(other, at: 4)
        gaps.expect(partition, at: 10)
        gaps.forgetAll()
        #expect(gaps.judge(6, in: other) == .accept)
        #expect(gaps.judge(12, in: partition) == .accept)
    }

    @Test("a message before the expected offset (read again after a seek) is delivered and the expectation follows it")
    func earlierMessage() {
        var gaps = OffsetGaps(maximumRereads: 5)
        gaps.expect(partition, at: 20)
        #expect(gaps.judge(18, in: partition) == .accept)
        #expect(gaps.judge(20, in: partition) == .reread(from: 19))
    }
}
