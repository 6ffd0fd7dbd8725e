import Foundation
@testable import Kafka
import Synchronization
import Testing
import TestSupport

@Suite("Lingering client: settings")
struct LingeringClientSettingsTests {
    @Test("librdkafka gets the linger in milliseconds, fractions included")
    func lingerMilliseconds() {
        #expect(LingeringClient(linger: .milliseconds(1)).lingerMilliseconds == "1.0")
        #expect(LingeringClient(linger: .microseconds(500)).lingerMilliseconds == "0.5")
    }

    @Test("the local profile has one with a 2 ms linger; standard has none; an explicit linger.ms turns it off")
    func profiles() {
        let local = KafkaConfiguration(bootstrapServers: "127.0.0.1:1", profile: .local)
        #expect(local.lingeringClient?.linger == .milliseconds(2))
        #expect(KafkaConfiguration(bootstrapServers: "127.0.0.1:1", profile: .standard).lingeringClient == nil)
        #expect(KafkaConfiguration(bootstrapServers: "127.0.0.1:1", profile: .local, properties: ["linger.ms": "0"]).lingeringClient == nil)
    }
}

/// A producer with a lingering client, against the local broker.
@Suite("Lingering client: a producer", .serialized, .timeLimit(.minutes(1)))
struct LingeringClientProducerTests {
    let logger = TestLogger.make("lingering-client")

    @Test("records handed over with mayLinger go through the lingering client, the others through the first; every one is acknowledged and read back from offset 0")
    func routesAndDelivers() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        // Each client's latest statistics, every 100 ms: which client sent how many records.
        let first = Mutex<KafkaStatistics?>(nil)
        let lingering = Mutex<KafkaStatistics?>(nil)
        let configuration = broker.configuration(properties: ["statistics.interval.ms": "100"])
        let producer = try KafkaProducer(
            configuration: configuration,
            lingeringClient: LingeringClient(linger: .milliseconds(1), statisticsHandler: { statistics in lingering.withLock { $0 = statistics } }),
            logger: logger, statisticsHandler: { statistics in first.withLock { $0 = statistics } })
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "lingering", partitions: 1)])

        let acknowledged = Atomic(0)
        let failed = Atomic(0)
        for index in 0..<205 {
            let record = KafkaRecord(topic: "lingering", key: "key-\(index)", value: Array("\(index)".utf8))
            try producer.produce(record, mayLinger: index >= 5) { outcome in
                switch outcome {
                case .success: acknowledged.add(1, ordering: .relaxed)
                case .failure: failed.add(1, ordering: .relaxed)
                }
            }
        }
        for _ in 0..<500 where acknowledged.load(ordering: .relaxed) + failed.load(ordering: .relaxed) < 205 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(acknowledged.load(ordering: .relaxed) == 205)
        #expect(failed.load(ordering: .relaxed) == 0)
        for _ in 0..<50 where (lingering.withLock { $0?.messagesSent } ?? 0) < 200 || (first.withLock { $0?.messagesSent } ?? 0) < 5 {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(first.withLock { $0?.messagesSent } == 5)
        #expect(lingering.withLock { $0?.messagesSent } == 200)

        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: ["lingering"], from: .beginning), logger: logger)
        var keys = Set<String>()
        for await message in consumer.messages {
            keys.insert(message.keyString ?? "")
            if keys.count == 205 { break }
        }
        #expect(keys == Set((0..<205).map { "key-\($0)" }))
        await consumer.close()
        await producer.close()
    }

    @Test("without a lingering client mayLinger changes nothing; a closed producer refuses both kinds")
    func withoutOne() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(properties: ["linger.ms": "0"]), logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "plain", partitions: 1)])
        let report = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<KafkaDeliveryReport, any Error>) in
            do {
                try producer.produce(KafkaRecord(topic: "plain", key: "k", value: [1]), mayLinger: true) { continuation.resume(with: $0) }
            } catch {
                continuation.resume(throwing: error)
            }
        }
        #expect(report.partition == 0)
        await producer.close()
        #expect(throws: KafkaError.self) { try producer.produce(KafkaRecord(topic: "plain", key: "k", value: [1]), mayLinger: true) { _ in } }
        #expect(throws: KafkaError.self) { try producer.produce(KafkaRecord(topic: "plain", key: "k", value: [1])) { _ in } }
    }
}
