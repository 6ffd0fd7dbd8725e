import Foundation
@testable import Kafka
import Logging
import Synchronization
import Testing
import TestSupport

@Suite("Errors and unreachable brokers", .serialized)
struct FailureTests {
    let logger = TestLogger.make("kafka-tests")

    @Test("an unknown librdkafka property is refused with librdkafka's own explanation")
    func invalidProperty() throws {
        let configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["no.such.property": "1"])
        #expect {
            _ = try KafkaProducer(configuration: configuration, logger: logger)
        } throws: { error in
            let kafkaError = try #require(error as? KafkaError)
            return kafkaError.message.contains("no.such.property") && kafkaError.name == "_INVALID_ARG"
        }
    }

    @Test("a property the wrapper manages cannot be overridden")
    func managedProperty() throws {
        let configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["enable.auto.commit": "true"])
        #expect {
            _ = try KafkaConsumer(configuration: configuration, subscription: .group(id: "g", topics: ["t"]), logger: logger)
        } throws: { error in
            (error as? KafkaError)?.message.contains("enable.auto.commit") ?? false
        }
    }

    @Test("with no broker listening, connectivity turns unreachable and a queued send fails fast as not persisted")
    func unreachableBroker() async throws {
        let port = try FreePort.find()  // nothing listens here
        let producer = try KafkaProducer(
            configuration: KafkaConfiguration(bootstrapServers: "127.0.0.1:\(port)", profile: .local), logger: logger)
        for _ in 0..<400 where !isUnreachable(producer.connectivity.current) {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(isUnreachable(producer.connectivity.current))
        // With brokers down, the record waits in the local queue; the next "all brokers down"
        // purges it well before message.timeout.ms (30 s).
        let outcome = await Task {
            try await producer.send(KafkaRecord(topic: "nowhere", key: "k", value: [1]))
        }.result
        guard case .failure(let error as KafkaError) = outcome else {
            Issue.record("expected a KafkaError, got \(outcome)")
            return
        }
        #expect(error.isDefinitelyNotDelivered)
        await producer.close()
    }

    @Test("connectivity follows the broker: unreachable while it is down, reachable again when it returns")
    func connectivityFollowsBroker() async throws {
        let broker = try await LocalBroker.start()
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        try await waitFor { producer.connectivity.isReachable }
        #expect(producer.connectivity.isReachable)

        await broker.stop()
        try await waitFor { isUnreachable(producer.connectivity.current) }
        #expect(isUnreachable(producer.connectivity.current))

        let restarted = try await LocalBroker.start(port: broker.port)
        defer { Task { await restarted.stop() } }
        try await waitFor { producer.connectivity.isReachable }
        #expect(producer.connectivity.isReachable)
        await producer.close()
    }

    @Test("a closed producer refuses sends with a not-persisted error")
    func closedProducer() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        await producer.close()
        await #expect {
            try await producer.send(KafkaRecord(topic: "t", key: "k", value: [1]))
        } throws: { error in
            (error as? KafkaError).map { $0.isClosed && $0.isDefinitelyNotDelivered } ?? false
        }
    }

    @Test("creating topics twice leaves the first layout alone")
    func idempotentTopicCreation() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        #expect(try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "twice", partitions: 2)]) == ["twice"])
        #expect(try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "twice", partitions: 5)]) == [])
        #expect(try await producer.admin.partitionCount(of: "twice") == 2)
        #expect(try await producer.admin.partitionCount(of: "absent") == nil)
        await producer.close()
    }

    private func isUnreachable(_ state: BrokerConnectivity.State) -> Bool {
        if case .unreachable = state { return true }
        return false
    }

    private func waitFor(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<1_000 where !condition() {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

@Suite("librdkafka version check")
struct VersionTests {
    @Test("the running librdkafka is new enough, and a newer minimum is refused naming both versions")
    func versionCheck() throws {
        #expect(LibrdkafkaVersion.running >= LibrdkafkaVersion.minimumSupported)
        try LibrdkafkaVersion.requireRunning()
        let future = LibrdkafkaVersion(major: 99, minor: 1, revision: 0)
        #expect {
            try LibrdkafkaVersion.requireRunning(atLeast: future)
        } throws: { error in
            let message = (error as? KafkaError)?.message ?? ""
            return message.contains(LibrdkafkaVersion.runningDescription) && message.contains("99.1.0")
        }
    }
}

@Suite("Fatal producer errors")
struct FatalErrorTests {
    @Test("after a fatal error the producer replaces its client and sends succeed again")
    func recoversFromFatalError() async throws {
        let broker = try await LocalBroker.start()
        defer { Task { await broker.stop() } }
        // The standard profile keeps the idempotent producer, the one that can fail fatally.
        let configuration = KafkaConfiguration(bootstrapServers: broker.bootstrapServers, profile: .standard)
        let producer = try KafkaProducer(configuration: configuration, logger: TestLogger.make("fatal"))
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "fatal", partitions: 1)])
        try await producer.send(KafkaRecord(topic: "fatal", key: "before", value: [1]))

        producer.raiseFatalErrorForTesting()
        var recovered = false
        for _ in 0..<100 {
            do {
                try await producer.send(KafkaRecord(topic: "fatal", key: "after", value: [2]))
                recovered = true
                break
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(recovered, "a send succeeded on the replacement client")
        #expect(producer.replacements.load(ordering: .relaxed) == 1, "the fatal error replaced the client")
        await producer.close()
    }
}
