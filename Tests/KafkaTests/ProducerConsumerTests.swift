import Foundation
import Kafka
import Logging
import Testing
import TestSupport

@Suite("Producer and consumer against the local broker", .serialized)
struct ProducerConsumerTests {
    let logger = TestLogger.make("kafka-tests")

    @Test("a sent record is acknowledged with its partition and offset, and read back with key, value and headers")
    func roundTrip() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        let created = try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "round-trip", partitions: 3)])
        #expect(created == ["round-trip"])
        #expect(try await producer.admin.partitionCount(of: "round-trip") == 3)

        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: ["round-trip"], from: .end), logger: logger)
        await consumer.waitUntilPositioned()
        #expect(consumer.assignment.count == 3)

        let record = KafkaRecord(
            topic: "round-trip", key: "key-1", value: Array("hello".utf8),
            headers: [KafkaHeader(name: "correlation-id", value: "abc"), KafkaHeader(name: "binary", value: [0, 255])])
        let report = try await producer.send(record)
        #expect(report.topic == "round-trip")
        #expect((0..<3).contains(report.partition))
        #expect(report.offset == 0)

        var iterator = consumer.messages.makeAsyncIterator()
        let message = try #require(await iterator.next())
        #expect(message.keyString == "key-1")
        #expect(message.value == Array("hello".utf8))
        #expect(message.headers == record.headers)
        #expect(message.partition == report.partition)
        #expect(message.offset == 0)

        await consumer.close()
        await producer.close()
    }
}
