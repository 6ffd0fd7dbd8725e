@testable import Kafka
import Testing
import TestSupport

/// What a consumer does when every broker connection goes down and comes back: keep its client
/// when the broker still has the same topics, replace it when the broker came back empty.
@Suite("Consumer recovery after an outage", .serialized)
struct OutageRecoveryTests {
    let logger = TestLogger.make("kafka-outage-tests")

    /// A broker behind a relay whose connections can be cut, with a one-partition topic.
    private struct Setup {
        let broker: LocalBroker
        let relay: TCPRelay
        let producer: KafkaProducer
        let consumer: KafkaConsumer
    }

    private func start(topic: String) async throws -> Setup {
        let relayPort = try FreePort.find()
        let broker = try await LocalBroker.start(advertisedPort: relayPort)
        let relay = try await TCPRelay.start(listeningOn: relayPort, forwardingTo: broker.port)
        let configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:\(relayPort)", clientID: "demosync-tests", profile: .local)
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: topic, partitions: 1)])
        let consumer = try KafkaConsumer(configuration: configuration, subscription: .allPartitions(of: [topic], from: .end), logger: logger)
        await consumer.waitUntilPositioned()
        try await waitFor { consumer.knowsTopicIdentities }
        return Setup(broker: broker, relay: relay, producer: producer, consumer: consumer)
    }

    private func stop(_ setup: Setup) async {
        await setup.consumer.close()
        await setup.producer.close()
        await setup.relay.stop()
        await setup.broker.stop()
    }

    @Test("dropped connections to a broker that kept its topics: the consumer keeps its client and reads on")
    func droppedConnectionsKeepClient() async throws {
        let setup = try await start(topic: "outage-kept")
        var messages = setup.consumer.messages.makeAsyncIterator()
        _ = try await setup.producer.send(KafkaRecord(topic: "outage-kept", key: "k", value: Array("before".utf8)))
        #expect(try #require(await messages.next()).value == Array("before".utf8))

        try await setup.relay.cutConnections(refusingFor: .seconds(2))
        try await waitFor { setup.consumer.outageRecoveries.total > 0 }
        #expect(setup.consumer.outageRecoveries.keptClient == 1)
        #expect(setup.consumer.outageRecoveries.rebuiltClient == 0)
        #expect(setup.consumer.isPositioned)

        try await waitFor { setup.producer.connectivity.isReachable }
        _ = try await setup.producer.send(KafkaRecord(topic: "outage-kept", key: "k", value: Array("after".utf8)))
        let next = try #require(await messages.next())
        #expect(next.value == Array("after".utf8))
        #expect(next.offset == 1, "nothing skipped, nothing read twice")
        await stop(setup)
    }

    @Test("a group member that started before its topic existed keeps its client after dropped connections")
    func groupMemberStartedEarlyKeepsClient() async throws {
        let relayPort = try FreePort.find()
        let broker = try await LocalBroker.start(advertisedPort: relayPort)
        let relay = try await TCPRelay.start(listeningOn: relayPort, forwardingTo: broker.port)
        let configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:\(relayPort)", clientID: "demosync-tests", profile: .local)
        let consumer = try KafkaConsumer(
            configuration: configuration, subscription: .group(id: "early", topics: ["outage-early"]),
            componentSettings: ["auto.offset.reset": "earliest"], logger: logger)
        try await Task.sleep(for: .seconds(1))  // reachable, and its topic still missing
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let setup = Setup(broker: broker, relay: relay, producer: producer, consumer: consumer)
        try await producer.admin.createTopicsIfMissing([KafkaTopicSpecification(name: "outage-early", partitions: 1)])
        await consumer.waitUntilPositioned()
        var messages = consumer.messages.makeAsyncIterator()
        _ = try await producer.send(KafkaRecord(topic: "outage-early", key: "k", value: Array("before".utf8)))
        let first = try #require(await messages.next())
        #expect(first.value == Array("before".utf8))
        consumer.acknowledge(first)
        try await waitFor { consumer.knowsTopicIdentities }
        #expect(consumer.knowsTopicIdentities, "learnt once positioned, although the topic was missing at start")

        try await relay.cutConnections(refusingFor: .seconds(2))
        try await waitFor { consumer.outageRecoveries.total > 0 }
        #expect(consumer.outageRecoveries.keptClient == 1)
        #expect(consumer.outageRecoveries.rebuiltClient == 0)

        try await waitFor { producer.connectivity.isReachable }
        _ = try await producer.send(KafkaRecord(topic: "outage-early", key: "k", value: Array("after".utf8)))
        #expect(try #require(await messages.next()).value == Array("after".utf8))
        await stop(setup)
    }

    @Test("a broker that came back empty (topics created again): the consumer replaces its client and reads the new topic")
    func emptyBrokerRebuildsClient() async throws {
        let setup = try await start(topic: "outage-rebuilt")
        var messages = setup.consumer.messages.makeAsyncIterator()
        _ = try await setup.producer.send(KafkaRecord(topic: "outage-rebuilt", key: "k", value: Array("before".utf8)))
        #expect(try #require(await messages.next()).value == Array("before".utf8))

        await setup.broker.stop()
        let restarted = try await LocalBroker.start(port: setup.broker.port, advertisedPort: setup.relay.port)
        defer { Task { await restarted.stop() } }
        try await createAgain(KafkaTopicSpecification(name: "outage-rebuilt", partitions: 1), through: setup.producer)
        try await waitFor { setup.consumer.outageRecoveries.total > 0 }
        #expect(setup.consumer.outageRecoveries.rebuiltClient == 1)
        #expect(setup.consumer.outageRecoveries.keptClient == 0)

        await setup.consumer.waitUntilPositioned()
        try await waitFor { setup.producer.connectivity.isReachable }
        _ = try await setup.producer.send(KafkaRecord(topic: "outage-rebuilt", key: "k", value: Array("after".utf8)))
        #expect(try #require(await messages.next()).value == Array("after".utf8))
        await stop(setup)
    }

    @Test("rebuilds asked for at once, and a close racing one, change the client one at a time: nothing skipped, nothing read twice")
    func concurrentRebuildsAndCloseTakeTurns() async throws {
        let setup = try await start(topic: "outage-turns")
        var messages = setup.consumer.messages.makeAsyncIterator()
        _ = try await setup.producer.send(KafkaRecord(topic: "outage-turns", key: "k", value: Array("before".utf8)))
        #expect(try #require(await messages.next()).value == Array("before".utf8))

        // Without turns, two of these stop the same polling thread and destroy the same handle,
        // and each starts a client of its own: all but one are left running, unreachable.
                await withTaskGroup(of: Void.self) { group in
            for _ in 0..<3 {
                group.addTask { await setup.consumer.rebuild() }
            }
        }
        await setup.consumer.waitUntilPositioned()
        #expect(setup.consumer.liveClientCount == 1, "each client replaced by one")
        _ = try await setup.producer.send(KafkaRecord(topic: "outage-turns", key: "k", value: Array("after".utf8)))
        let next = try #require(await messages.next())
        #expect(next.value == Array("after".utf8))
        #expect(next.offset == 1)

        async let racing: Void = setup.consumer.rebuild()
        await stop(setup)
        await racing
        #expect(setup.consumer.liveClientCount == 0, "closed: no client left")
        #expect(await messages.next() == nil, "closed: the sequence ends")
    }

    /// Creates a topic on a broker that has just started, retrying while it is not answering yet.
    private func createAgain(_ topic: KafkaTopicSpecification, through producer: KafkaProducer) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while true {
            do {
                try await producer.admin.createTopicsIfMissing([topic], timeout: .seconds(5))
                return
            } catch where ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func waitFor(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<1_500 where !condition() {
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
