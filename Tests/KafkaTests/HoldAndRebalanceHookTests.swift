import Kafka
import Synchronization
import Testing
import TestSupport

@Suite("Holding a consumer and rebalance hooks, against the local broker", .serialized)
struct HoldAndRebalanceHookTests {
    let logger = TestLogger.make("kafka-tests")

    @Test("a held consumer delivers nothing produced meanwhile; released, it delivers all of it, in order")
    func holdAndRelease() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "held", partitions: 1)])
        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: ["held"], from: .beginning), logger: logger)
        consumer.hold()
        await consumer.waitUntilPositioned()
        let received = Mutex<[Int64]>([])
        let reader = Task {
            for await batch in consumer.batches() {
                received.withLock { $0 += batch.map(\.offset) }
            }
        }
        for number in 0..<20 {
            try await producer.send(KafkaRecord(topic: "held", partition: 0, key: "\(number)", value: [1]))
        }
        // Time for several fetch rounds of the local profile (5 ms each): none may deliver.
        try await Task.sleep(for: .milliseconds(500))
        #expect(received.withLock { $0 }.isEmpty, "nothing is fetched while held")
        consumer.release()
        for _ in 0..<500 where received.withLock({ $0.count }) < 20 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(received.withLock { $0 } == Array(0..<20))
        consumer.stopDelivering()
        reader.cancel()
        await consumer.close()
        await producer.close()
    }

    @Test("a group member's hooks hear its assignment before any of its messages, and its revocation before it is committed")
    func hooks() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "hooked", partitions: 2)])
        for number in 0..<10 {
            try await producer.send(KafkaRecord(topic: "hooked", key: "\(number)", value: [1]))
        }
        let events = Mutex<[String]>([])
        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .group(id: "hooked-group", topics: ["hooked"]),
            componentSettings: ["auto.offset.reset": "earliest"],
            rebalanceHooks: .init(
                assigned: { partitions in events.withLock { $0.append("assigned \(partitions.count)") } },
                revoking: { partitions in events.withLock { $0.append("revoking \(partitions.count)") } }),
            logger: logger)
        var messages = consumer.messages.makeAsyncIterator()
        let first = try #require(await messages.next())
        events.withLock { $0.append("message") }
        consumer.acknowledge(first)
        await consumer.close()
        let seen = events.withLock { $0 }
        #expect(seen.first == "assigned 2", "the assignment is heard before any message: \(seen)")
        #expect(seen.contains("message"))
        #expect(seen.last == "revoking 2", "closing revokes the partitions through the hook: \(seen)")
        await producer.close()
    }
}
