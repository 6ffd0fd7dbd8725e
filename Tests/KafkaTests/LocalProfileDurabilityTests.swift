import Foundation
import Kafka
import Testing
import TestSupport

@Suite("The local profile on the local broker")
struct LocalProfileDurabilityTests {
    /// Reads `topic` from offset 0 with a new consumer until `expected` distinct keys arrived or
    /// `patience` passes: what the broker stored, whatever its watermarks say.
    static func keysReadBack(_ topic: String, expected: Int, broker: LocalBroker, patience: Duration = .seconds(30)) async throws -> Set<String> {
        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: [topic], from: .beginning), logger: TestLogger.make("durability"))
        let stopper = Task {
            try await Task.sleep(for: patience)
            consumer.stopDelivering()
        }
        var keys = Set<String>()
        for await batch in consumer.batches() {
            for message in batch { keys.insert(message.keyString ?? "") }
            if keys.count >= expected { break }
        }
        stopper.cancel()
        await consumer.close()
        return keys
    }

    /// Sends `count` one-byte records to partition 0 of `topic` at once, keyed `keyPrefix` and a
    /// number, and waits for every delivery report.
    static func send(_ count: Int, to topic: String, keyPrefix: String, via producer: KafkaProducer) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for number in 0..<count {
                group.addTask { try await producer.send(KafkaRecord(topic: topic, partition: 0, key: "\(keyPrefix)\(number)", value: [1])) }
            }
            try await group.waitForAll()
        }
    }

    /// The offsets `consumer` delivers while `write` runs and after, until offset `last` arrives
    /// or `patience` passes once writing is done.
    static func offsetsRead(
        by consumer: KafkaConsumer, until last: Int64, patience: Duration, while write: () async throws -> Void
    ) async throws -> [Int64] {
        let reader = Task { () -> [Int64] in
            var offsets: [Int64] = []
            for await message in consumer.messages {
                offsets.append(message.offset)
                if message.offset == last { break }
            }
            return offsets
        }
        try await write()
        let stopper = Task {
            try await Task.sleep(for: patience)
            consumer.stopDelivering()
        }
        defer { stopper.cancel() }
        return await reader.value
    }

    /// The local profile batches (several records per produce request, one request in flight per
    /// connection). Tansu 0.6 stores every record of such requests; only its high watermark is
    /// wrong for them (see `highWatermarkIsNotARecordCount`), so this counts what a fresh
    /// reader reads back from offset 0.
    @Test("every record acknowledged by concurrent batching producers to one partition is read back by a fresh reader")
    func acknowledgedMeansStored() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let logger = TestLogger.make("durability")
        let producers = try (0..<3).map { _ in try KafkaProducer(configuration: broker.configuration(), logger: logger) }
        try await producers[0].admin.createTopicsIfMissing([KafkaTopicSpecification(name: "hot", partitions: 1)])
        let perProducer = 2_000
        let offsets = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for (index, producer) in producers.enumerated() {
                for number in 0..<perProducer {
                    group.addTask {
                        try await producer.send(KafkaRecord(topic: "hot", partition: 0, key: "\(index)-\(number)", value: [1])).offset
                    }
                }
            }
            return try await group.reduce(into: Set<Int64>()) { if let offset = $1 { $0.insert(offset) } }
        }
        #expect(offsets.count == producers.count * perProducer, "every delivery report names an offset of its own")
        let keys = try await Self.keysReadBack("hot", expected: producers.count * perProducer, broker: broker)
        #expect(keys.count == producers.count * perProducer)
        for producer in producers { await producer.close() }
    }

    /// Tansu 0.6 answers ListOffsets with the last batch's first offset + 1 (checked with
    /// confluent-kafka too, see docs/reliability.md): after one batch of many records the high
    /// watermark is 1. Nothing in DemoSync may take it for a record count; this test pins the
    /// defect, so that the workarounds can go when a broker fixes it (the test then fails).
    @Test("the local broker under-reports the high watermark of a multi-record batch; a read barrier still finds the end")
    func highWatermarkIsNotARecordCount() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let logger = TestLogger.make("durability")
        // A long linger puts all the records in one batch.
        let producer = try KafkaProducer(configuration: broker.configuration(properties: ["linger.ms": "200"]), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "one-batch", partitions: 1)])
        let partition = KafkaTopicPartition(topic: "one-batch", partition: 0)
        try await Self.send(500, to: "one-batch", keyPrefix: "", via: producer)
        let marks = try await producer.admin.watermarks(of: partition)
        #expect(marks.high < 500, "the broker's high watermark is not the record count (it was \(marks.high))")
        let barrier = try await KafkaReadBarrier.place(in: [partition], using: producer)
        #expect(barrier[partition] == 500, "the marker's offset comes after every record")
        let keys = try await Self.keysReadBack("one-batch", expected: 501, broker: broker)
        #expect(keys.count == 501, "the 500 records and the marker")
        await producer.close()
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
        let offsets = try await Self.offsetsRead(by: consumer, until: Int64(total - 1), patience: .seconds(20)) {
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
        }
        #expect(offsets.count == total)
        #expect(Set(offsets) == Set(0..<Int64(total)), "no offset skipped, none delivered twice")
        await consumer.close()
        for producer in producers { await producer.close() }
    }

    /// The same gaps at the very start of a reader: positioned on a partition that two producers
    /// then write at once, its first fetch can be answered with the second producer's batch. The
    /// reader expects the offset it was assigned at, so it reads the first batch too (the decision
    /// is checked offset by offset in `OffsetGapsTests`; here only rarely does the broker list
    /// the batches out of order at the very start). Half the trials start on a topic that holds a
    /// multi-record batch already: the broker under-reports its end (see
    /// `highWatermarkIsNotARecordCount`), so the reader is assigned inside that batch and must
    /// read on from there, not wait for an offset the broker never lists.
    @Test("a reader positioned on a partition that two producers then write at once receives every offset from where it was positioned, each once")
    func readerSeesTheFirstOffsets() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let logger = TestLogger.make("durability")
        let producers = try (0..<2).map { _ in try KafkaProducer(configuration: broker.configuration(), logger: logger) }
        let batching = try KafkaProducer(configuration: broker.configuration(properties: ["linger.ms": "200"]), logger: logger)
        let perProducer = 16
        let prefilled = 10
        for trial in 0..<40 {
            let topic = "new-\(trial)"
            let partition = KafkaTopicPartition(topic: topic, partition: 0)
            try await producers[0].admin.createTopicsIfMissing([KafkaTopicSpecification(name: topic, partitions: 1)])
            let stored = trial.isMultiple(of: 2) ? 0 : prefilled
            try await Self.send(stored, to: topic, keyPrefix: "stored-", via: batching)
            let consumer = try KafkaConsumer(configuration: broker.configuration(), subscription: .partitions([partition], from: .end), logger: logger)
            await consumer.waitUntilPositioned()
            let end = Int64(stored + producers.count * perProducer)
            let offsets = try await Self.offsetsRead(by: consumer, until: end - 1, patience: .seconds(10)) {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (index, producer) in producers.enumerated() {
                        group.addTask { try await Self.send(perProducer, to: topic, keyPrefix: "\(index)-", via: producer) }
                    }
                    try await group.waitForAll()
                }
            }
            await consumer.close()
            let first = offsets.min() ?? end
            #expect(first <= Int64(stored), "trial \(trial): every record written after positioning is read")
            #expect(offsets.sorted() == Array(first..<end), "trial \(trial): every offset from the first, each once")
        }
        for producer in producers + [batching] { await producer.close() }
    }
}

extension LocalProfileDurabilityTests {
    /// Tansu answers a fetch with no records when finding them takes longer than the fetch's
    /// wait, and the search grows with the batches a partition holds (reproduction 2 in
    /// bench/reproductions: with a 1 ms wait, every fetch of the last record of 3,000 one-record
    /// batches came back empty). A 1 ms wait over 5,000 batches starves a reader that keeps it;
    /// the consumer must raise it and read on.
    @Test("a reader whose fetch wait is too short for the records a partition holds raises it and reads every record")
    func starvedReaderRaisesItsFetchWait() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let logger = TestLogger.make("durability")
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        let topic = "deep"
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: topic, partitions: 1)])
        // One at a time, so that each record is a batch of its own (one request in flight).
        for number in 0..<5_000 {
            try await producer.send(KafkaRecord(topic: topic, partition: 0, key: "stored-\(number)", value: [1]))
        }
        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .partitions([KafkaTopicPartition(topic: topic, partition: 0)], from: .end),
            componentSettings: ["fetch.wait.max.ms": "1"], logger: logger)
        await consumer.waitUntilPositioned()
        let offsets = try await Self.offsetsRead(by: consumer, until: 5_049, patience: .seconds(60)) {
            for number in 0..<50 {
                try await producer.send(KafkaRecord(topic: topic, partition: 0, key: "new-\(number)", value: [1]))
            }
        }
        #expect(offsets.sorted() == Array(5_000..<5_050), "every record written after positioning, each once")
        #expect(consumer.fetchWaitRaiseCount >= 1)
        #expect((consumer.fetchWaitMilliseconds ?? 0) > 1)
        await consumer.close()
        await producer.close()
    }
}
