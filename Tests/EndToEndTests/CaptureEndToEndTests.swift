import Foundation
import Kafka
import Logging
import Testing
import TestSupport

extension EndToEnd {
    /// The built binary end to end: `demosync serve` and `demosync simulate` against the local
    /// broker, driven by `demosync capture`.
    @Suite("End to end: serve, simulate and capture over the local broker", .serialized)
    struct CaptureEndToEndTests {
        @Test("an approval prints the processor's answer and exits 0")
        func approved() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "50ms", "--approval-rate", "1"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }

            let result = try await DemoSync.capture(
                ["--amount", "100.50", "--currency", "BRL", "--transaction-id", "tx_123456", "--metadata", "order_id=order_12345", "--url", server.url])
            #expect(result.status == 0, "stderr: \(result.errorOutput)")
            let json = try #require(result.json, "stdout: \(result.output)")
            #expect(Set(json.keys) == ["correlation_id", "transaction_id", "status", "authorization_code"])
            #expect(json["status"] as? String == "approved")
            #expect(json["transaction_id"] as? String == "tx_123456")
            let code = try #require(json["authorization_code"] as? String)
            #expect(code.count == 6 && code.allSatisfy(\.isNumber))
            #expect((json["correlation_id"] as? String).flatMap(UUID.init(uuidString:)) != nil)
        }

        @Test("a decline prints the original's decline body and exits 3")
        func declined() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "0"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }

            let result = try await DemoSync.capture(["--amount", "7", "--url", server.url])
            #expect(result.status == 3, "stderr: \(result.errorOutput)")
            let json = try #require(result.json)
            #expect(json["status"] as? String == "declined")
            #expect(json["error_code"] as? String == "payment_declined")
            #expect(json["error_message"] as? String == "Pagamento recusado pela operadora")
            #expect(json["authorization_code"] == nil)
        }

        @Test("with nothing answering, the capture ends in 504 naming its correlation id, and exits 4")
        func timeout() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let server = try await DemoSync.serve(["--timeout", "1s"], environment: DemoSync.environment(broker: broker))
            defer { Task { await server.process.terminate() } }

            let result = try await DemoSync.capture(["--amount", "10.00", "--url", server.url])
            #expect(result.status == 4, "stderr: \(result.errorOutput)")
            let json = try #require(result.json)
            #expect(json["error_code"] as? String == "processor_timeout")
            #expect((json["correlation_id"] as? String)?.isEmpty == false)
        }

        @Test("with the broker unreachable, the capture is refused with 503 at once, not after the timeout")
        func brokerUnreachable() async throws {
            let deadPort = try FreePort.find()
            // A ten-minute capture timeout and a five-minute client timeout: a 503 can only come
            // from the fast path, never from waiting the timeout out.
            let server = try await DemoSync.serve(
                ["--timeout", "10m", "--bootstrap-servers", "127.0.0.1:\(deadPort)"],
                environment: ["DEMOSYNC_KAFKA_PROFILE": "local"], waitForReady: false)
            defer { Task { await server.process.terminate() } }
            #expect(await HTTPProbe.status(port: server.port, path: "/health/ready") == 503)

            let result = try await DemoSync.capture(["--amount", "10.00", "--url", server.url, "--timeout", "5m"])
            #expect(result.status == 5, "stdout: \(result.output) stderr: \(result.errorOutput)")
            let json = try #require(result.json)
            #expect(json["error_code"] as? String == "broker_unavailable")
        }

        @Test("two serve replicas on one broker each get their own answers: concurrent captures, no timeouts")
        func twoReplicas() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "20ms"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let first = try await DemoSync.serve(["--timeout", "30s"], environment: environment, name: "serve-a")
            defer { Task { await first.process.terminate() } }
            let second = try await DemoSync.serve(["--timeout", "30s"], environment: environment, name: "serve-b")
            defer { Task { await second.process.terminate() } }

            let results = try await withThrowingTaskGroup(of: (Int, CommandResult).self) { group in
                for index in 0..<24 {
                    let url = index.isMultiple(of: 2) ? first.url : second.url
                    group.addTask {
                        (index, try await DemoSync.capture(["--amount", "1.\(10 + index)", "--transaction-id", "tx_replica_\(index)", "--url", url]))
                    }
                }
                return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
            }
            #expect(results.count == 24)
            for (index, result) in results.sorted(by: { $0.key < $1.key }) {
                #expect([0, 3].contains(result.status), "capture \(index) exited \(result.status): \(result.output) \(result.errorOutput)")
                #expect(result.json?["transaction_id"] as? String == "tx_replica_\(index)", "each answer reaches its own waiter")
            }
        }
    }
}
