import Foundation
import CRdKafka
@testable import Kafka
import Testing
import TestSupport

/// The partition choice itself, with the clock handed in.
@Suite("Sticky partitioning: the choice")
struct StickyPartitioningChoiceTests {
    let window = StickyPartitioning.windowMilliseconds

    @Test("records keep to one partition for a window, then move to the next, wrapping around")
    func rotates() {
        let all: (Int32) -> Bool = { _ in true }
        let start = 1_000 * window  // a window boundary, and partition 1000 % 3 == 1
        #expect(StickyPartitioning.partition(atMilliseconds: start, count: 3, isAvailable: all) == 1)
        #expect(StickyPartitioning.partition(atMilliseconds: start + window - 1, count: 3, isAvailable: all) == 1)
        #expect(StickyPartitioning.partition(atMilliseconds: start + window, count: 3, isAvailable: all) == 2)
        #expect(StickyPartitioning.partition(atMilliseconds: start + 2 * window, count: 3, isAvailable: all) == 0)
        #expect(StickyPartitioning.partition(atMilliseconds: start, count: 1, isAvailable: all) == 0)
    }

    @Test("a partition without a leader is skipped; none available keeps the window's own")
    func skipsUnavailable() {
        let start = 1_000 * window  // partition 1 of 3
        #expect(StickyPartitioning.partition(atMilliseconds: start, count: 3, isAvailable: { $0 != 1 }) == 2)
        #expect(StickyPartitioning.partition(atMilliseconds: start, count: 3, isAvailable: { $0 == 0 }) == 0)
        #expect(StickyPartitioning.partition(atMilliseconds: start, count: 3, isAvailable: { _ in false }) == 1)
        #expect(StickyPartitioning.partition(atMilliseconds: start, count: 0, isAvailable: { _ in true }) == RD_KAFKA_PARTITION_UA)
    }
}

/// The partitioner installed on a real producer, against the local broker.
@Suite("Sticky partitioning: a producer", .serialized, .timeLimit(.minutes(1)))
struct StickyPartitioningProducerTests {
    let logger = TestLogger.make("sticky-partitioning")

    @Test("one key lands in several partitions of a sticky topic over time, and in one of any other; an explicit partition is kept; all are read back")
    func ignoresKeysOnlyOnStickyTopics() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), stickyTopics: ["sticky"], logger: logger)
        try await producer.admin.createTopicsIfMissing([
            KafkaTopicSpecification(name: "sticky", partitions: 3), KafkaTopicSpecification(name: "keyed", partitions: 3),
        ])
        var sticky: [Int32] = []
        var keyed: [Int32] = []
        for _ in 0..<12 {
            sticky.append(try await producer.send(KafkaRecord(topic: "sticky", key: "one-key", value: [1])).partition)
            keyed.append(try await producer.send(KafkaRecord(topic: "keyed", key: "one-key", value: [1])).partition)
            // More than a window, so that the next record belongs to another one (a partition
            // repeats only if the pause spans a multiple of three windows, every time).
            try await Task.sleep(for: .milliseconds(StickyPartitioning.windowMilliseconds + 1))
        }
        #expect(Set(sticky).count >= 2, "sticky partitions: \(sticky)")
        #expect(Set(keyed).count == 1, "keyed partitions: \(keyed)")
        #expect(try await producer.send(KafkaRecord(topic: "sticky", partition: 2, key: "one-key", value: [2])).partition == 2)

        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: ["sticky"], from: .beginning), logger: logger)
        var read = 0
        for await message in consumer.messages {
            #expect(message.keyString == "one-key")
            read += 1
            if read == 13 { break }
        }
        #expect(read == 13)
        await consumer.close()
        await producer.close()
    }
}
