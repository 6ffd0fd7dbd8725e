import Foundation
import Kafka
import Logging
import Testing
import TestSupport

extension EndToEnd {
    /// The original README's wire contract, played by the test itself over raw Kafka: our `serve`
    /// must work with a processor written against the original, and our `simulate` must answer
    /// requests produced the way the original produced them.
    @Suite("Wire contract of the original", .serialized)
    struct ContractTests {
        let logger = TestLogger.make("contract-tests")

        @Test("serve works with a processor that matches on the key and replies with the README's body and no headers")
        func serveWithOriginalProcessor() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let server = try await DemoSync.serve(environment: DemoSync.environment(broker: broker))
            defer { Task { await server.process.terminate() } }

            // The processor of the original README: consume payment-requests, reply on
            // payment-responses keyed by the same correlation id, body as in the README.
            let consumer = try KafkaConsumer(
                configuration: broker.configuration(), subscription: .group(id: "original-processor", topics: ["payment-requests"]),
                componentSettings: ["auto.offset.reset": "earliest"], logger: logger)
            let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
            let seenRequest = Locked<[String: String]?>(nil)
            let processor = Task {
                for await message in consumer.messages {
                    let request = try #require(try JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any])
                    seenRequest.withLock { $0 = request.mapValues { "\($0)" } }
                    let key = try #require(message.keyString)
                    let reply: [String: Any] = [
                        "correlation_id": key, "transaction_id": request["transaction_id"] as Any, "status": "approved",
                        "authorization_code": "A1B2C3",
                    ]
                    try await producer.send(
                        KafkaRecord(topic: "payment-responses", key: key, value: Array(try JSONSerialization.data(withJSONObject: reply))))
                    consumer.acknowledge(message)
                    return
                }
            }

            let result = try await DemoSync.capture(
                ["--amount", "100.50", "--transaction-id", "tx_123456", "--metadata", "order_id=order_12345", "--url", server.url])
            try await processor.value
            #expect(result.status == 0, "\(result.output) \(result.errorOutput)")
            let json = try #require(result.json)
            #expect(json["authorization_code"] as? String == "A1B2C3", "an alphanumeric code passes through unchanged")
            #expect(json["status"] as? String == "approved")

            // The request record carries the HTTP body plus correlation_id, with the exact amount.
            let request = try #require(seenRequest.value)
            #expect(Set(request.keys) == ["correlation_id", "transaction_id", "amount", "currency", "metadata"])
            #expect(request["amount"] == "100.5")
            #expect(request["correlation_id"] == json["correlation_id"] as? String)
            consumer.stopDelivering()
            await consumer.close()
            await producer.close()
        }

        @Test("simulate answers a request produced as the original API did: keyed, float amount, no headers")
        func simulateAnswersOriginalRequest() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
            try await producer.admin.createTopicsIfMissing([
                KafkaTopicSpecification(name: "payment-requests"), KafkaTopicSpecification(name: "payment-responses"),
            ])
            let replies = try KafkaConsumer(
                configuration: broker.configuration(), subscription: .allPartitions(of: ["payment-responses"], from: .beginning),
                logger: logger)
            let simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "1"], environment: DemoSync.environment(broker: broker))
            defer { Task { await simulator.terminate() } }

            let correlationID = "550e8400-e29b-41d4-a716-446655440000"
            let body = #"""
                {"correlation_id":"550e8400-e29b-41d4-a716-446655440000","transaction_id":"tx_123456","amount":100.5,"currency":"BRL","metadata":{"order_id":"order_12345","customer_id":"cust_6789"}}
                """#
            try await producer.send(KafkaRecord(topic: "payment-requests", key: correlationID, value: Array(body.utf8)))

            var iterator = replies.messages.makeAsyncIterator()
            let reply = try #require(await iterator.next())
            #expect(reply.keyString == correlationID, "the reply is keyed by the request's correlation id")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(reply.value)) as? [String: Any])
            #expect(json["correlation_id"] as? String == correlationID)
            #expect(json["transaction_id"] as? String == "tx_123456")
            #expect(json["status"] as? String == "approved")
            #expect((json["authorization_code"] as? String)?.count == 6)
            await replies.close()
            await producer.close()
        }

        @Test("simulate skips a malformed request without stalling its partition")
        func malformedRequestSkipped() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
            try await producer.admin.createTopicsIfMissing([
                KafkaTopicSpecification(name: "payment-requests", partitions: 1), KafkaTopicSpecification(name: "payment-responses"),
            ])
            let replies = try KafkaConsumer(
                configuration: broker.configuration(), subscription: .allPartitions(of: ["payment-responses"], from: .beginning),
                logger: logger)
            // Garbage first, on the only partition, then a good request behind it.
            try await producer.send(KafkaRecord(topic: "payment-requests", key: "junk", value: Array("not json {".utf8)))
            try await producer.send(
                KafkaRecord(
                    topic: "payment-requests", key: "8d1e2f4a-0000-4000-8000-000000000001",
                    value: Array(#"{"transaction_id":"tx_after_junk","amount":1,"currency":"BRL"}"#.utf8)))
            let simulator = try DemoSync.simulate(["--delay", "0"], environment: DemoSync.environment(broker: broker))
            defer { Task { await simulator.terminate() } }

            var iterator = replies.messages.makeAsyncIterator()
            let reply = try #require(await iterator.next())
            #expect(reply.keyString == "8d1e2f4a-0000-4000-8000-000000000001")
            #expect(simulator.output.contains("malformed request skipped"))
            await replies.close()
            await producer.close()
        }
    }
}
