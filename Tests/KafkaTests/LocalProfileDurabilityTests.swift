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
}
