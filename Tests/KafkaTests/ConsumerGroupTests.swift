import Foundation
import Kafka
import Logging
import Synchronization
import Testing
import TestSupport

@Suite("Consumer groups, commits and back-pressure against the local broker", .serialized)
struct ConsumerGroupTests {
    let logger = TestLogger.make("kafka-tests")

    private func produce(_ count: Int, to topic: String, with producer: KafkaProducer, prefix: String = "m") async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<count {
                group.addTask {
                    try await producer.send(KafkaRecord(topic: topic, key: "\(prefix)\(index)", value: Array("\(prefix)\(index)".utf8)))
                }
            }
            try await group.waitForAll()
        }
    }

    private func read(_ count: Int, from consumer: KafkaConsumer, acknowledge: Bool) async -> [KafkaMessage] {
        var received: [KafkaMessage] = []
        for await message in consumer.messages {
            received.append(message)
            if acknowledge { consumer.acknowledge(message) }
            if received.count == count { break }
        }
        return received
    }

    @Test("a group member resumes after the last acknowledged offset, and re-reads what was not acknowledged")
    func commitsOnlyAcknowledged() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "work", partitions: 1)])
        try await produce(10, to: "work", with: producer)

        let first = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .group(id: "workers", topics: ["work"]),
            componentSettings: ["auto.offset.reset": "earliest"], logger: logger)
        let firstBatch = await read(10, from: first, acknowledge: false)
        #expect(firstBatch.map(\.offset) == Array(0..<10))
        // Acknowledge 0...3 and 5, but not 4: only offsets up to 4 (exclusive) may be committed.
        for message in firstBatch where message.offset <= 3 || message.offset == 5 {
            first.acknowledge(message)
        }
        await first.close()

        let second = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .group(id: "workers", topics: ["work"]),
            componentSettings: ["auto.offset.reset": "earliest"], logger: logger)
        let secondBatch = await read(6, from: second, acknowledge: true)
        #expect(secondBatch.map(\.offset) == Array(4..<10), "redelivery starts at the first unacknowledged offset")
        await second.close()
        await producer.close()
    }

    @Test("a slow reader bounds the buffer by pausing, and still gets every message once, in order")
    func backPressure() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "backlog", partitions: 1)])
        try await produce(2_000, to: "backlog", with: producer)

        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: ["backlog"], from: .beginning),
            bufferCapacity: 50, logger: logger)
        var offsets: [Int64] = []
        var largestBacklog = 0
        for await message in consumer.messages {
            offsets.append(message.offset)
            if offsets.count % 100 == 0 {
                // Let the polling thread run ahead as far as it will.
                try await Task.sleep(for: .milliseconds(30))
                largestBacklog = max(largestBacklog, consumer.bufferedCount)
            }
            if offsets.count == 2_000 { break }
        }
        #expect(offsets == Array(0..<2_000), "every message exactly once, in order, across pauses and resumes")
        // The buffer may overshoot its capacity by what one poll returns, never by the backlog.
        #expect(largestBacklog <= 60)
        await consumer.close()
        await producer.close()
    }

    @Test("two members of a group share the partitions and between them read every message")
    func groupSplitsPartitions() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "shared", partitions: 4)])
        let settings = ["auto.offset.reset": "earliest"]
        let first = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .group(id: "pair", topics: ["shared"]), componentSettings: settings,
            logger: logger)
        let second = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .group(id: "pair", topics: ["shared"]), componentSettings: settings,
            logger: logger)
        await first.waitUntilPositioned()
        await second.waitUntilPositioned()
        try await produce(200, to: "shared", with: producer)

        let seen = Locked<Set<String>>([])
        let deadline = ContinuousClock.now + .seconds(60)
        await withTaskGroup(of: Void.self) { group in
            for consumer in [first, second] {
                group.addTask {
                    for await message in consumer.messages {
                        consumer.acknowledge(message)
                        let done = seen.withLock { set -> Bool in
                            set.insert(message.keyString ?? "")
                            return set.count == 200
                        }
                        if done || ContinuousClock.now > deadline { break }
                    }
                }
            }
            // Whichever member finishes the set, stop the other.
            while seen.withLock({ $0.count }) < 200, ContinuousClock.now < deadline {
                try? await Task.sleep(for: .milliseconds(20))
            }
            first.stopDelivering()
            second.stopDelivering()
        }
        #expect(seen.withLock { $0.count } == 200)
        let assigned = Set(first.assignment).union(second.assignment)
        #expect(assigned.count == 4, "the group assigned all four partitions")
        await first.close()
        await second.close()
        await producer.close()
    }
}
