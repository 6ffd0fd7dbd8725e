@testable import Kafka
import Testing

@Suite("Broker connectivity's reasons")
struct BrokerConnectivityTests {
    // librdkafka's codes (rd_kafka_resp_err_t), stable across versions.
    private static let transport = KafkaError(code: -195, name: "_TRANSPORT", message: "127.0.0.1:9/bootstrap: Connect to ipv4#127.0.0.1:9 failed: Connection refused")
    private static let ssl = KafkaError(code: -181, name: "_SSL", message: "ssl://127.0.0.1:9/bootstrap: SSL handshake failed: certificate verify failed")
    private static let allBrokersDown = KafkaError(code: -187, name: "_ALL_BROKERS_DOWN", message: "1/1 brokers are down")
    private static let unknownTopic = KafkaError(code: 3, name: "UNKNOWN_TOPIC_OR_PART", message: "Broker: Unknown topic or partition")

    @Test("an unreachable state names the last connection error, until the brokers are reachable again")
    func reasonCarriesLastConnectionError() {
        let connectivity = BrokerConnectivity()
        connectivity.record(error: Self.transport)
        #expect(connectivity.current == .unknown, "a connection error alone does not decide reachability")
        connectivity.record(error: Self.ssl)
        connectivity.record(error: Self.unknownTopic)  // not about a connection: not a cause
        connectivity.record(error: Self.allBrokersDown)
        #expect(connectivity.current == .unreachable(reason: "1/1 brokers are down; last connection error: \(Self.ssl.message)"))
        connectivity.recordFailure(reason: "Local: Timed out")
        #expect(connectivity.current == .unreachable(reason: "Local: Timed out; last connection error: \(Self.ssl.message)"))

        connectivity.recordSuccess()
        #expect(connectivity.current == .reachable)
        connectivity.record(error: Self.allBrokersDown)
        #expect(connectivity.current == .unreachable(reason: "1/1 brokers are down"), "the old cause is forgotten once reachable")
    }
}
