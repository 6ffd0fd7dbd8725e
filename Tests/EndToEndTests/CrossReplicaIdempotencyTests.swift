import Foundation
import Kafka
import Payments
import PaymentsClient
import Synchronization
import Testing
import TestSupport

/// A processor written against the original contract that deduplicates nothing: it answers
/// every request record it reads, after `delay`, with an approval and a fresh authorization code.
/// For it, two request records for one transaction are two payments.
final class NaiveProcessor: Sendable {
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let task: Task<Void, Never>
    private let answered = AnsweredCount()

    private final class AnsweredCount: Sendable {
        let value = Atomic(0)
    }

    init(broker: LocalBroker, delay: Duration) throws {
        let logger = TestLogger.make("naive-processor")
        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .group(id: "naive-processor", topics: ["payment-requests"]),
            componentSettings: ["auto.offset.reset": "earliest"], logger: logger)
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
        let answered = self.answered
        self.consumer = consumer
        self.producer = producer
        task = Task {
            await withDiscardingTaskGroup { group in
                for await message in consumer.messages {
                    if KafkaReadBarrier.isMarker(message) {  // the test's own read barriers
                        consumer.acknowledge(message)
                        continue
                    }
                    group.addTask {
                        try? await Task.sleep(for: delay)
                        let key = message.keyString ?? ""
                        let transaction = (try? JSONSerialization.jsonObject(with: Data(message.value)) as? [String: Any])?["transaction_id"] as? String
                        let code = String(format: "%06d", Int.random(in: 0..<1_000_000))
                        let body = #"{"correlation_id":"\#(key)","transaction_id":"\#(transaction ?? "")","status":"approved","authorization_code":"\#(code)"}"#
                        _ = try? await producer.send(KafkaRecord(topic: "payment-responses", key: key, value: Array(body.utf8)))
                        answered.value.add(1, ordering: .relaxed)
                        consumer.acknowledge(message)
                    }
                }
            }
        }
    }

    /// Waits until the group has given the processor its partitions (joining takes seconds).
    func waitUntilAssigned() async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while consumer.assignment.isEmpty {
            guard ContinuousClock.now < deadline else { throw TestSupportError("the naive processor was never assigned partitions") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Records answered so far.
    var answeredCount: Int { answered.value.load(ordering: .relaxed) }

    func stop() async {
        consumer.stopDelivering()
        task.cancel()
        await consumer.close()
        await producer.close()
    }
}

/// The request records a fresh reader finds for a transaction, from offset 0.
enum RequestRecords {
    static func count(transactionID: String, broker: LocalBroker) async throws -> Int {
        let consumer = try KafkaConsumer(
            configuration: broker.configuration(), subscription: .allPartitions(of: ["payment-requests"], from: .beginning),
            logger: TestLogger.make("request-records"))
        await consumer.waitUntilPositioned()
        let placed = try await KafkaReadBarrierReader.place(in: consumer.assignment, broker: broker)
        var found = 0
        var reached: Set<KafkaTopicPartition> = []
        var iterator = consumer.messages.makeAsyncIterator()
        while reached.count < placed.count, let message = await iterator.next() {
            let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
            if let marker = placed[partition], message.offset >= marker { reached.insert(partition) }
            guard !KafkaReadBarrier.isMarker(message) else { continue }
            if String(decoding: message.value, as: UTF8.self).contains("\"\(transactionID)\"") { found += 1 }
        }
        await consumer.close()
        return found
    }
}

/// Barrier markers for the count above: the request topic's high watermark is not a record
/// count on the local broker, so the reader stops at markers it placed itself. (Our simulator
/// and serve skip markers; the naive processor answers them with a reply no waiter matches.)
enum KafkaReadBarrierReader {
    static func place(in partitions: [KafkaTopicPartition], broker: LocalBroker) async throws -> [KafkaTopicPartition: Int64] {
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: TestLogger.make("barrier"))
        defer { Task { await producer.close() } }
        return try await KafkaReadBarrier.place(in: partitions, using: producer)
    }
}

extension EndToEnd {
    /// Issue 10: one capture whichever replica hears it. Three `serve` replicas behind
    /// round-robin, a processor that deduplicates nothing, request records counted by a fresh
    /// reader from offset 0.
    @Suite("End to end: idempotency across replicas and restarts", .serialized)
    struct CrossReplicaIdempotencyTests {
        struct Cluster {
            let broker: LocalBroker
            let processor: NaiveProcessor
            var servers: [RunningServer]

            func stop() async {
                for server in servers { await server.process.terminate() }
                await processor.stop()
                await broker.stop()
            }
        }

        private func cluster(replicas: Int = 3, timeout: String, processorDelay: Duration) async throws -> Cluster {
            let broker = try await LocalBroker.start()
            var servers: [RunningServer] = []
            for index in 0..<replicas {
                servers.append(try await serve(broker: broker, timeout: timeout, name: "serve-\(index)"))
            }
            // After the replicas, which create the topics: a group member of a topic that does
            // not exist yet waits for a metadata refresh.
            let processor = try NaiveProcessor(broker: broker, delay: processorDelay)
            try await processor.waitUntilAssigned()
            return Cluster(broker: broker, processor: processor, servers: servers)
        }

        private func serve(broker: LocalBroker, timeout: String, name: String) async throws -> RunningServer {
            try await DemoSync.serve(["--timeout", timeout], environment: DemoSync.environment(broker: broker), name: name)
        }


        private func capture(_ request: CaptureRequest, on server: RunningServer, key: String? = nil) async throws -> CaptureResult {
            try await PaymentsAPIClient(baseURL: server.url).capture(request, timeout: .seconds(60), headers: key.map { [("Idempotency-Key", $0)] } ?? [])
        }

        /// The correlation id every replica derives for the first attempt of a capture.
        private func firstAttempt(of request: CaptureRequest, key: String? = nil) -> CorrelationID {
            CorrelationID.attempt(key: key ?? request.transactionID, fingerprint: CaptureFingerprint.of(request), after: nil)
        }

        @Test("504 on one replica, then the retry on another: the verdict, replayed, and one request record; GET and 422 alike everywhere")
        func retryOnAnotherReplica() async throws {
            let cluster = try await cluster(timeout: "1s", processorDelay: .seconds(2))
            defer { Task { await cluster.stop() } }
            let servers = cluster.servers
            let first = request("tx_x_504")
            let timedOut = try await capture(first, on: servers[0])
            #expect(timedOut.status == 504)
            #expect(timedOut.error?.errorCode == "processor_timeout")
            try await Task.sleep(for: .seconds(3))  // the verdict has arrived by now

            let retried = try await capture(first, on: servers[1])
            #expect(retried.status == 200)
            #expect(retried.header("Idempotent-Replayed") == "true")
            let again = try await capture(first, on: servers[2])
            #expect(again.response?.authorizationCode == retried.response?.authorizationCode)
            #expect(try await RequestRecords.count(transactionID: "tx_x_504", broker: cluster.broker) == 1)

            let id = try #require(retried.response?.correlationID)
            for server in servers {
                let status = try await PaymentsAPIClient(baseURL: server.url).get(path: "/api/v1/payments/\(id.rawValue)")
                #expect(status.status == 200)
                #expect(status.response?.authorizationCode == retried.response?.authorizationCode)
                let conflict = try await capture(request("tx_x_504", amount: "99.00"), on: server)
                #expect(conflict.status == 422)
                #expect(conflict.error?.errorCode == "idempotency_key_reused")
                let unknown = try await PaymentsAPIClient(baseURL: server.url).get(path: "/api/v1/payments/\(CorrelationID.random().rawValue)")
                #expect(unknown.status == 404)
            }
        }

        @Test("a retry on another replica while the verdict is still coming waits for it: 202 on GET meanwhile, no second record")
        func retryWhilePending() async throws {
            let cluster = try await cluster(timeout: "2s", processorDelay: .seconds(3))
            defer { Task { await cluster.stop() } }
            let servers = cluster.servers
            let first = request("tx_x_pending")
            let id = firstAttempt(of: first, key: "key-pending")
            let timedOut = try await capture(first, on: servers[0], key: "key-pending")
            #expect(timedOut.status == 504)
            #expect(timedOut.error?.correlationID == id.rawValue)
            let pending = try await PaymentsAPIClient(baseURL: servers[2].url).get(path: "/api/v1/payments/\(id.rawValue)")
            #expect(pending.status == 202)
            let retried = try await capture(first, on: servers[1], key: "key-pending")
            #expect(retried.status == 200)
            #expect(retried.header("Idempotent-Replayed") == "true")
            #expect(try await RequestRecords.count(transactionID: "tx_x_pending", broker: cluster.broker) == 1)
            #expect(cluster.processor.answeredCount == 1)
        }

        @Test("a replica SIGKILLed while its capture waits; the retry on another gets the verdict and sends nothing")
        func killedReplica() async throws {
            let cluster = try await cluster(timeout: "10s", processorDelay: .seconds(2))
            defer { Task { await cluster.stop() } }
            let first = request("tx_x_killed")
            let id = firstAttempt(of: first)
            let doomed = cluster.servers[0]
            let abandoned = Task { try? await capture(first, on: doomed) }
            // Wait until the request is in Kafka (another replica reports it pending), then kill.
            let observer = PaymentsAPIClient(baseURL: cluster.servers[1].url)
            var seen = false
            for _ in 0..<100 where !seen {
                seen = try await observer.get(path: "/api/v1/payments/\(id.rawValue)").status == 202
                if !seen { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(seen, "the other replica learned of the request")
            doomed.process.signal(SIGKILL)
            _ = await doomed.process.waitForExit(timeout: .seconds(10))
            _ = await abandoned.value
            let retried = try await capture(first, on: cluster.servers[1])
            #expect(retried.status == 200)
            #expect(retried.header("Idempotent-Replayed") == "true")
            #expect(try await RequestRecords.count(transactionID: "tx_x_killed", broker: cluster.broker) == 1)

            // Its successor learns everything before it is ready, and answers for it.
            let successor = try await serve(broker: cluster.broker, timeout: "10s", name: "serve-0-restarted")
            defer { Task { await successor.process.terminate() } }
            #expect(successor.process.output.contains("captures already in Kafka loaded"))
            let replayed = try await capture(first, on: successor)
            #expect(replayed.status == 200)
            #expect(replayed.response?.authorizationCode == retried.response?.authorizationCode)
            #expect(replayed.header("Idempotent-Replayed") == "true")
            #expect(try await PaymentsAPIClient(baseURL: successor.url).get(path: "/api/v1/payments/\(id.rawValue)").status == 200)
            #expect(try await RequestRecords.count(transactionID: "tx_x_killed", broker: cluster.broker) == 1)
        }

        @Test("20 concurrent duplicates of a new capture spread over three replicas: at most one record per replica, one verdict for all")
        func concurrentDuplicates() async throws {
            let cluster = try await cluster(timeout: "10s", processorDelay: .milliseconds(200))
            defer { Task { await cluster.stop() } }
            let first = request("tx_x_burst")
            let urls = cluster.servers.map(\.url)
            let results = try await withThrowingTaskGroup(of: CaptureResult.self) { group in
                for index in 0..<20 {
                    let url = urls[index % urls.count]
                    group.addTask {
                        try await PaymentsAPIClient(baseURL: url).capture(first, timeout: .seconds(60), headers: [("Idempotency-Key", "key-burst")])
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.status == 200 })
            let codes = Set(results.compactMap { $0.response?.authorizationCode })
            #expect(codes.count == 1, "one verdict for all 20: \(codes)")
            let ids = Set(results.compactMap { $0.response?.correlationID })
            #expect(ids == [firstAttempt(of: first, key: "key-burst")])
            let records = try await RequestRecords.count(transactionID: "tx_x_burst", broker: cluster.broker)
            #expect((1...3).contains(records), "\(records) request records")
            print("concurrent duplicates: 20 requests over 3 replicas → \(records) request records, \(codes.count) verdict")
        }

        @Test("Prefer: respond-async through demosync capture --async, then --wait holds for the verdict")
        func respondAsyncFromTheCommandLine() async throws {
            let cluster = try await cluster(replicas: 1, timeout: "10s", processorDelay: .seconds(1))
            defer { Task { await cluster.stop() } }
            let url = cluster.servers[0].url
            let accepted = try await DemoSync.capture(["--amount", "5.00", "--transaction-id", "tx_x_async", "--async", "--url", url])
            #expect(accepted.status == 6)
            #expect(accepted.json?["status"] as? String == "pending")
            let statusURL = try #require(accepted.json?["status_url"] as? String)
            let held = try await PaymentsAPIClient(baseURL: url).get(path: statusURL, timeout: .seconds(20), headers: [("Prefer", "wait=10")])
            #expect(held.status == 200)
            #expect(held.header("Preference-Applied") == "wait=10")
            let waited = try await DemoSync.capture(["--amount", "6.00", "--transaction-id", "tx_x_async2", "--async", "--wait", "10s", "--url", url])
            #expect(waited.status == 0, "approved: \(waited.output) \(waited.errorOutput)")
            #expect(waited.json?["status"] as? String == "approved")
        }
    }
}
