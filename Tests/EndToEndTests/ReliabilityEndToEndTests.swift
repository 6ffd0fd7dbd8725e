import Foundation
import Kafka
import Logging
import Payments
import PaymentsClient
import Testing
import TestSupport

extension EndToEnd {
    /// Issue 3 end to end: idempotency, outcomes after a timeout, deadlines, reply routing at scale,
    /// back-pressure and error replies, with the real binary on the real local broker.
    @Suite("End to end: never lose a payment outcome", .serialized)
    struct ReliabilityEndToEndTests {
        let logger = TestLogger.make("reliability-tests")

        private func records(in topic: String, broker: LocalBroker) async throws -> Int64 {
            let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
            defer { Task { await producer.close() } }
            let partitions = try await producer.admin.partitionCount(of: topic) ?? 0
            var total: Int64 = 0
            for partition in 0..<partitions {
                let marks = try await producer.admin.watermarks(of: KafkaTopicPartition(topic: topic, partition: Int32(partition)))
                total += marks.high - marks.low
            }
            return total
        }


        @Test("ten concurrent identical captures produce one Kafka record and ten identical answers; a later one is a replay")
        func duplicates() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "300ms"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }
            let client = PaymentsAPIClient(baseURL: server.url)

            let results = try await withThrowingTaskGroup(of: CaptureResult.self) { group in
                for _ in 0..<10 { group.addTask { try await client.capture(request("tx_dup")) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.allSatisfy { $0.status == 200 })
            #expect(Set(results.map(\.body)).count == 1, "ten identical answers")
            #expect(try await records(in: "payment-requests", broker: broker) == 1, "one record reached Kafka")

            let replay = try await client.capture(request("tx_dup"))
            #expect(replay.status == 200)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(replay.body == results[0].body)

            let conflicting = try await client.capture(request("tx_dup", amount: "26.00"))
            #expect(conflicting.status == 422)
            #expect(conflicting.error?.errorCode == "idempotency_key_reused")
            #expect(try await records(in: "payment-requests", broker: broker) == 1)
        }

        @Test("a capture that times out can have its outcome fetched once the processor answers")
        func outcomeAfterTimeout() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "1500ms", "--approval-rate", "1"], environment: environment)
            defer { Task { await simulator.terminate() } }
            try await simulator.waitUntilSimulatorReady()
            let server = try await DemoSync.serve(["--timeout", "700ms"], environment: environment)
            defer { Task { await server.process.terminate() } }
            let client = PaymentsAPIClient(baseURL: server.url)

            let timedOut = try await client.capture(request("tx_slow"))
            #expect(timedOut.status == 504)
            let statusURL = try #require(timedOut.error.flatMap { _ in timedOut.header("Location") })
            #expect(timedOut.bodyText.contains(statusURL))

            var final: CaptureResult?
            for _ in 0..<300 {
                let lookup = try await client.get(path: statusURL)
                if lookup.status == 200 {
                    final = lookup
                    break
                }
                #expect([202, 404].contains(lookup.status))
                try await Task.sleep(for: .milliseconds(50))
            }
            let answer = try #require(final?.response)
            #expect(answer.status == .approved)
            #expect(answer.transactionID == "tx_slow")
            #expect(answer.authorizationCode?.count == 6)
        }

        @Test("a request whose deadline passed before the simulator saw it is answered expired, never processed")
        func expiredRequest() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let server = try await DemoSync.serve(["--timeout", "300ms"], environment: environment)
            defer { Task { await server.process.terminate() } }
            let client = PaymentsAPIClient(baseURL: server.url)

            let timedOut = try await client.capture(request("tx_expired"))
            #expect(timedOut.status == 504)
            let statusURL = try #require(timedOut.header("Location"))

            // The simulator starts only now, after the deadline.
            let simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "1"], environment: environment)
            defer { Task { await simulator.terminate() } }
            var final: CaptureResponse?
            for _ in 0..<400 {
                let lookup = try await client.get(path: statusURL)
                if lookup.status == 200 {
                    final = try JSONDecoder().decode(CaptureResponse.self, from: Data(lookup.body))
                    break
                }
                try await Task.sleep(for: .milliseconds(50))
            }
            let answer = try #require(final)
            #expect(answer.status == .expired)
            #expect(answer.errorCode == "deadline_exceeded")
            #expect(answer.authorizationCode == nil)
        }

        @Test("beyond its in-flight limit a replica answers 503 with Retry-After at once")
        func inFlightLimit() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let server = try await DemoSync.serve(["--max-pending", "2", "--timeout", "3s"], environment: DemoSync.environment(broker: broker))
            defer { Task { await server.process.terminate() } }
            let client = PaymentsAPIClient(baseURL: server.url)

            let results = try await withThrowingTaskGroup(of: CaptureResult.self) { group in
                for index in 0..<6 { group.addTask { try await client.capture(request("tx_limit_\(index)")) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let refused = results.filter { $0.status == 503 }
            #expect(results.filter { $0.status == 504 }.count == 2, "two captures waited (and timed out: no processor)")
            #expect(refused.count == 4)
            #expect(refused.allSatisfy { $0.error?.errorCode == "too_many_pending" && $0.header("Retry-After") != nil })
        }

        @Test("the simulator gives a repeated transaction its original verdict, across requests and across restarts")
        func simulatorIdempotency() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let producer = try KafkaProducer(configuration: broker.configuration(), logger: logger)
            try await producer.admin.createTopicsIfMissing([
                KafkaTopicSpecification(name: "payment-requests"), KafkaTopicSpecification(name: "payment-responses"),
            ])
            let replies = try KafkaConsumer(
                configuration: broker.configuration(), subscription: .allPartitions(of: ["payment-responses"], from: .beginning), logger: logger)
            var iterator = replies.messages.makeAsyncIterator()

            func send(_ correlationID: String) async throws -> [String: String] {
                let body = #"{"correlation_id":"\#(correlationID)","transaction_id":"tx_twice","amount":5,"currency":"BRL"}"#
                try await producer.send(KafkaRecord(topic: "payment-requests", key: correlationID, value: Array(body.utf8)))
                let reply = try #require(await iterator.next())
                let json = try #require(try JSONSerialization.jsonObject(with: Data(reply.value)) as? [String: Any])
                #expect(reply.keyString == correlationID)
                return json.compactMapValues { $0 as? String }
            }

            var simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "0.5"], environment: environment)
            let first = try await send("aaaaaaaa-0000-4000-8000-000000000001")
            let second = try await send("aaaaaaaa-0000-4000-8000-000000000002")
            #expect(first["status"] == second["status"])
            #expect(first["authorization_code"] == second["authorization_code"])
            #expect(second["correlation_id"] == "aaaaaaaa-0000-4000-8000-000000000002")

            await simulator.terminate()
            simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "0.5"], environment: environment, name: "simulate-again")
            defer { Task { [simulator] in await simulator.terminate() } }
            let third = try await send("aaaaaaaa-0000-4000-8000-000000000003")
            #expect(third["status"] == first["status"], "the verdict journal survives a restart")
            #expect(third["authorization_code"] == first["authorization_code"])
            await replies.close()
            await producer.close()
        }
    }
}
