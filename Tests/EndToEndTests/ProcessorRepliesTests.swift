import Foundation
import Kafka
import Logging
import PaymentsClient
import Payments
import Testing
import TestSupport

extension EndToEnd {
    /// Replies that are not verdicts: a processor error, and garbage. Both end the wait at once.
    @Suite("End to end: error and garbage replies", .serialized)
    struct ProcessorRepliesTests {
        let logger = TestLogger.make("replies-tests")

        /// Runs a processor that answers the first request with `reply` (after a read barrier's
        /// markers in every reply partition, when asked), and a capture against a ten-minute
        /// timeout: whatever status comes back came from the reply, not the clock. Returns it with
        /// the replica's count of unparseable replies.
        private func capture(
            placingBarrierFirst: Bool = false, answeringWith reply: @escaping @Sendable (String) -> KafkaRecord
        ) async throws -> (result: CaptureResult, unparseableReplies: Double?) {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let server = try await DemoSync.serve(["--timeout", "10m"], environment: DemoSync.environment(broker: broker))
            defer { Task { await server.process.terminate() } }
            let consumer = try KafkaConsumer(
                configuration: broker.configuration(), subscription: .group(id: "test-processor", topics: ["payment-requests"]),
                componentSettings: ["auto.offset.reset": "earliest"], logger: logger)
            let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
            let processor = Task {
                for await message in consumer.messages {
                    if placingBarrierFirst, let count = try await producer.admin.partitionCount(of: "payment-responses") {
                        let partitions = (0..<Int32(count)).map { KafkaTopicPartition(topic: "payment-responses", partition: $0) }
                        _ = try await KafkaReadBarrier.place(in: partitions, using: producer)
                    }
                    try await producer.send(reply(message.keyString ?? ""))
                    return
                }
            }
            let result = try await PaymentsAPIClient(baseURL: server.url).capture(
                CaptureRequest(transactionID: "tx_err", amount: Amount(exactly: "3")!, currency: CurrencyCode("BRL")!), timeout: .seconds(120))
            try await processor.value
            consumer.stopDelivering()
            await consumer.close()
            await producer.close()
            let metrics = PrometheusText(try await PaymentsAPIClient(baseURL: server.url).get(path: "/metrics").bodyText)
            return (result, metrics.value("demosync_replies_unparseable_total"))
        }

        @Test("a processor error reply (processor-status: error) is a 502 with the processor's detail")
        func processorError() async throws {
            let (result, _) = try await capture { key in
                KafkaRecord(
                    topic: "payment-responses", key: key,
                    value: Array(#"{"transaction_id":"tx_err","status":"error","error_code":"issuer_unavailable","error_message":"issuer down"}"#.utf8),
                    headers: [KafkaHeader(name: "processor-status", value: "error")])
            }
            #expect(result.status == 502)
            #expect(result.error?.errorCode == "processor_error")
            #expect(result.error?.errorMessage.contains("issuer_unavailable") == true)
        }

        @Test("a garbage reply fails its waiter at once with 502")
        func garbageReply() async throws {
            let (result, unparseable) = try await capture { key in
                KafkaRecord(topic: "payment-responses", key: key, value: Array("<html>oops</html>".utf8))
            }
            #expect(result.status == 502)
            #expect(result.error?.errorCode == "processor_error")
            #expect(unparseable == 1)
        }

        @Test("a read barrier's markers in the reply topic are passed over, not counted as unparseable replies")
        func barrierMarkers() async throws {
            let (result, unparseable) = try await capture(placingBarrierFirst: true) { key in
                KafkaRecord(topic: "payment-responses", key: key, value: Array(#"{"transaction_id":"tx_err","status":"approved"}"#.utf8))
            }
            #expect(result.status == 200)
            #expect(unparseable == 0)
        }
    }
}
