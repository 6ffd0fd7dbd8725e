import Foundation
import Kafka
import Logging
import Testing
import TestSupport

/// A consumer's `skipping`: records marked with a header are passed over, never delivered, and
/// count as handled, through the real wrapper against the local broker.
@Suite("Skipping a producer's own records against the local broker", .serialized)
struct SkippedRecordsTests {
    let logger = TestLogger.make("kafka-tests")
    let mine = KafkaHeader(name: "sender-id", value: "me")

    /// 12 records, every third one marked as this process's (and one with the name but another
    /// value, which is not); the numbers of those to be delivered.
    private func produceMixed(to topic: String, with producer: KafkaProducer) async throws -> [String] {
        var delivered: [String] = []
        for index in 0..<12 {
            var headers = [KafkaHeader(name: "n", value: "\(index)")]
            if index % 3 == 0 {
                headers.append(mine)
            } else {
                if index == 4 { headers.append(KafkaHeader(name: "sender-id", value: "someone-else")) }
                delivered.append("\(index)")
            }
            try await producer.send(KafkaRecord(topic: topic, key: "k\(index)", value: Array("\(index)".utf8), headers: headers))
        }
        return delivered
    }

    private func read(_ count: Int, from consumer: KafkaConsumer, acknowledge: Bool) async -> [String] {
        var received: [String] = []
        for await message in consumer.messages {
            received.append(String(decoding: message.value, as: UTF8.self))
            if acknowledge { consumer.acknowledge(message) }
            if received.count == count { break }
        }
        return received
    }

    @Test("a consumer that reads every partition delivers all but the marked records, in order")
    func allPartitions() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "mixed", partitions: 1)])
        let expected = try await produceMixed(to: "mixed", with: producer)

        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: ["mixed"], from: .beginning), skipping: mine,
            logger: logger)
        #expect(await read(expected.count, from: consumer, acknowledge: false) == expected)
        // The last record (11) is delivered, so nothing marked can be waiting behind it; a marked
        // record produced now is passed over and an unmarked one after it still arrives.
        try await producer.send(KafkaRecord(topic: "mixed", key: "k12", value: Array("12".utf8), headers: [mine]))
        try await producer.send(KafkaRecord(topic: "mixed", key: "k13", value: Array("13".utf8)))
        #expect(await read(1, from: consumer, acknowledge: false) == ["13"])
        await consumer.close()
        await producer.close()
    }

    @Test("a group member commits past the records it passed over")
    func groupCommitsPastSkipped() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "mixed-group", partitions: 1)])
        let expected = try await produceMixed(to: "mixed-group", with: producer)
        // The last record is marked: only if passing it over counts as handled is the group's
        // committed offset past it.
        try await producer.send(KafkaRecord(topic: "mixed-group", key: "k12", value: Array("12".utf8), headers: [mine]))

        let first = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .group(id: "skippers", topics: ["mixed-group"]),
            componentSettings: ["auto.offset.reset": "earliest"], skipping: mine, logger: logger)
        #expect(await read(expected.count, from: first, acknowledge: true) == expected)
        await first.close()

        // A member that skips nothing starts where the group committed: after every record so
        // far, the marked last one included.
        try await producer.send(KafkaRecord(topic: "mixed-group", key: "k13", value: Array("13".utf8)))
        let second = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .group(id: "skippers", topics: ["mixed-group"]),
            componentSettings: ["auto.offset.reset": "earliest"], logger: logger)
        #expect(await read(1, from: second, acknowledge: true) == ["13"])
        await second.close()
        await producer.close()
    }
}
