@testable import Kafka
import Testing

@Suite("Kafka client configuration")
struct KafkaConfigurationTests {
    @Test("the standard profile (the default) keeps the idempotent producer on and librdkafka's fetch waits")
    func standardProfile() throws {
        let configuration = KafkaConfiguration(bootstrapServers: "broker:9092")
        #expect(configuration.profile == .standard)
        let producer = try configuration.resolvedProperties(for: .producer)
        #expect(producer["enable.idempotence"] == "true")
        #expect(producer["acks"] == "all")
        #expect(producer["linger.ms"] == "0")
        #expect(producer["max.in.flight.requests.per.connection"] == nil, "librdkafka's default (capped at 5 by idempotence)")
        let consumer = try configuration.resolvedProperties(for: .consumer)
        #expect(consumer["fetch.wait.max.ms"] == nil)
    }

    @Test("the local profile batches adaptively (one request in flight per connection, no linger) and waits 5 ms per fetch")
    func localProfile() throws {
        let configuration = KafkaConfiguration(bootstrapServers: "127.0.0.1:9092", profile: .local)
        let producer = try configuration.resolvedProperties(for: .producer)
        #expect(producer["max.in.flight.requests.per.connection"] == "1")
        #expect(producer["linger.ms"] == "0")
        #expect(producer["batch.num.messages"] == nil, "records share produce requests again")
        #expect(producer["enable.idempotence"] == "false")
        let consumer = try configuration.resolvedProperties(for: .consumer)
        #expect(consumer["fetch.wait.max.ms"] == "5")
    }

    @Test("the caller's settings win over the profile, the user's over both; what the wrapper enforces cannot be overridden")
    func precedence() throws {
        let configuration = KafkaConfiguration(bootstrapServers: "b:9092", profile: .local, properties: ["fetch.wait.max.ms": "50"])
        let resolved = try configuration.resolvedProperties(
            for: .consumer, componentSettings: ["fetch.wait.max.ms": "500", "auto.offset.reset": "earliest"])
        #expect(resolved["fetch.wait.max.ms"] == "50")
        #expect(resolved["auto.offset.reset"] == "earliest")
        let overriding = KafkaConfiguration(bootstrapServers: "b:9092", properties: ["enable.auto.commit": "true"])
        #expect(throws: KafkaError.self) {
            _ = try overriding.resolvedProperties(for: .consumer, enforced: ["enable.auto.commit": "false"])
        }
    }
}
