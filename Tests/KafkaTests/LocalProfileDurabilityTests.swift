import Foundation
import Kafka
import Testing
import TestSupport

@Suite("The local profile on the local broker")
struct LocalProfileDurabilityTests {
    /// Tansu 0.6 acknowledges produce requests that carry several records while storing only some
    /// of them; the local profile sends one record per request. Without it this test loses
    /// hundreds of the 6,000 acknowledged records.
    @Test("every record acknowledged by concurrent producers to one partition is stored")
    func acknowledgedMeansStored() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let logger = TestLogger.make("durability")
        let producers = try (0..<3).map { _ in try KafkaProducer(configuration: broker.configuration(), logger: logger) }
        try await producers[0].admin.createTopicsIfMissing([KafkaTopicSpecification(name: "hot", partitions: 1)])
        let perProducer = 2_000
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, producer) in producers.enumerated() {
                for number in 0..<perProducer {
                    group.addTask {
                        try await producer.send(KafkaRecord(topic: "hot", partition: 0, key: "\(index)-\(number)", value: [1]))
                    }
                }
            }
            try await group.waitForAll()
        }
        let marks = try await producers[0].admin.watermarks(of: KafkaTopicPartition(topic: "hot", partition: 0))
        #expect(marks.high - marks.low == Int64(producers.count * perProducer))

        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: ["hot"], from: .beginning), logger: logger)
        var keys = Set<String>()
        var iterator = consumer.messages.makeAsyncIterator()
        while keys.count < producers.count * perProducer, Int64(keys.count) < marks.high - marks.low, let message = await iterator.next() {
            keys.insert(message.keyString ?? "")
        }
        #expect(keys.count == producers.count * perProducer)
        await consumer.close()
        for producer in producers { await producer.close() }
    }

    /// Tansu 0.6 lets a fetch see a record of one producer before an earlier offset written at
    /// the same time by another is visible; a reader that moved on would skip it for good. The
    /// local profile re-reads such gaps. Without it this test misses 1 to 4 records in 4,000.
    @Test("a reader of a partition that two producers write at once receives every offset, each once")
    func readerSeesEveryOffset() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let logger = TestLogger.make("durability")
        let producers = try (0..<2).map { _ in try KafkaProducer(configuration: broker.configuration(), logger: logger) }
        try await producers[0].admin.createTopicsIfMissing([KafkaTopicSpecification(name: "visible", partitions: 1)])
        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .partitions([KafkaTopicPartition(topic: "visible", partition: 0)], from: .end),
            logger: logger)
        await consumer.waitUntilPositioned()
        let total = 4_000
        let reader = Task { () -> [Int64] in
            var offsets: [Int64] = []
            for await message in consumer.messages {
                offsets.append(message.offset)
                if offsets.count == total { break }
            }
            return offsets
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, producer) in producers.enumerated() {
                group.addTask {
                    // Bursts of 24 concurrent sends per producer, like a busy simulator.
                    for burst in stride(from: 0, to: total / producers.count, by: 24) {
                        try await withThrowingTaskGroup(of: Void.self) { sends in
                            for number in burst..<min(burst + 24, total / producers.count) {
                                sends.addTask {
                                    try await producer.send(KafkaRecord(topic: "visible", partition: 0, key: "\(index)-\(number)", value: [1]))
                                }
                            }
                            try await sends.waitForAll()
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let stopper = Task {
            try await Task.sleep(for: .seconds(20))
            consumer.stopDelivering()
        }
        let offsets = await reader.value
        stopper.cancel()
        #expect(offsets.count == total)
        #expect(Set(offsets) == Set(0..<Int64(total)), "no offset skipped, none delivered twice")
        await consumer.close()
        for producer in producers { await producer.close() }
    }
}
