@testable import Kafka
import Testing

/// Where a consumer that assigns its own partitions reads from, handed metadata directly: the
/// local broker refuses CreatePartitions, so a partition added to a live topic is simulated by
/// the metadata the plan is given.
@Suite("Assignment plan (partitions added while running)")
struct AssignmentPlanTests {
    let topic = "payment-responses"

    func partition(_ index: Int32) -> KafkaTopicPartition { KafkaTopicPartition(topic: topic, partition: index) }

    @Test("a topic that grew from 3 to 5 partitions: the 2 new ones are found, in order, and nothing else")
    func added() {
        let assigned = (0..<3).map(partition)
        #expect(AssignmentPlan.added(to: assigned, counts: [topic: 5]) == [partition(3), partition(4)])
        #expect(AssignmentPlan.added(to: assigned, counts: [topic: 3]).isEmpty)
        #expect(AssignmentPlan.added(to: [], counts: [topic: 2, "payment-requests": 1]).count == 3)
    }

    @Test("on re-assignment, known partitions resume where delivery stopped and added ones start at their beginning, even from the end")
    func offsets() {
        let marks: [KafkaTopicPartition: (low: Int64, high: Int64)] = [
            partition(0): (0, 100), partition(1): (0, 50), partition(2): (0, 7), partition(3): (0, 3),
        ]
        let plan = AssignmentPlan.offsets(
            for: (0..<4).map(partition), previous: (0..<3).map(partition), resume: [partition(0): 90, partition(1): 50, partition(2): 7],
            start: .end, watermarks: { marks[$0]! })
        #expect(plan.map(\.offset) == [90, 50, 7, 0], "the added partition's 3 records are read, not skipped")
    }

    @Test("the first assignment starts where asked; a resume point beyond a log that lost its data starts at what it has")
    func firstAssignmentAndLostData() {
        let marks: [KafkaTopicPartition: (low: Int64, high: Int64)] = [partition(0): (10, 20), partition(1): (0, 5)]
        let fromEnd = AssignmentPlan.offsets(for: [partition(0), partition(1)], previous: [], resume: [:], start: .end, watermarks: { marks[$0]! })
        #expect(fromEnd.map(\.offset) == [20, 5])
        let fromStart = AssignmentPlan.offsets(for: [partition(0)], previous: [], resume: [:], start: .beginning, watermarks: { marks[$0]! })
        #expect(fromStart.map(\.offset) == [10])
        let lost = AssignmentPlan.offsets(
            for: [partition(0), partition(1)], previous: [partition(0), partition(1)], resume: [partition(0): 500, partition(1): 2],
            start: .end, watermarks: { marks[$0]! })
        #expect(lost.map(\.offset) == [10, 2])
    }
}
