import Foundation
import Kafka
import Payments
import PaymentsClient
import Testing
import TestSupport

extension EndToEnd {
    /// Issue 4 end to end: health, metrics, traces, graceful shutdown and authentication, with the
    /// real binary on the real local broker.
    @Suite("Operations: health, metrics, traces, shutdown, security")
    struct OperationsEndToEndTests {
        let logger = TestLogger.make("operations-tests")



        private func metrics(_ port: Int) async throws -> PrometheusText {
            let result = try await PaymentsAPIClient(baseURL: "http://127.0.0.1:\(port)").get(path: "/metrics")
            #expect(result.header("Content-Type")?.hasPrefix("text/plain") == true)
            return PrometheusText(result.bodyText)
        }

        @Test("readiness turns false while the broker is down and true again on its own when it returns; captures work again")
        func readinessFollowsBroker() async throws {
            let broker = try await LocalBroker.start()
            let environment = DemoSync.environment(broker: broker)
            let healthPort = try FreePort.find()
            let simulator = try DemoSync.simulate(["--delay", "0", "--health-port", "\(healthPort)"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }
            try await waitFor("the simulator to be ready") { await HTTPProbe.status(port: healthPort, path: "/health/ready") == 200 }

            await broker.stop()
            try await waitFor("serve to report not ready") { await HTTPProbe.status(port: server.port, path: "/health/ready") == 503 }
            try await waitFor("simulate to report not ready") { await HTTPProbe.status(port: healthPort, path: "/health/ready") == 503 }
            let refused = try await PaymentsAPIClient(baseURL: server.url).capture(request("tx_while_down"))
            #expect(refused.status == 503)

            let restarted = try await LocalBroker.start(port: broker.port)
            defer { Task { await restarted.stop() } }
            try await waitFor("serve to be ready again") { await HTTPProbe.status(port: server.port, path: "/health/ready") == 200 }
            try await waitFor("simulate to be ready again") { await HTTPProbe.status(port: healthPort, path: "/health/ready") == 200 }
            let answered = try await PaymentsAPIClient(baseURL: server.url).capture(request("tx_after_restart"))
            #expect(answered.status == 200, "\(answered.bodyText)")
        }

        @Test("/metrics is Prometheus text and its counters move as captures happen, in serve and in simulate")
        func metricsMove() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let healthPort = try FreePort.find()
            let simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "1", "--health-port", "\(healthPort)"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }

            let before = try await metrics(server.port)
            let approvedBefore = before.value("demosync_captures_total", ["outcome": "approved"]) ?? 0
            let client = PaymentsAPIClient(baseURL: server.url)
            for index in 0..<3 {
                let result = try await client.capture(request("tx_metrics_\(index)"))
                #expect(result.status == 200)
            }
            let rejected = try await client.post(path: "/api/v1/payments/capture", body: Array("{".utf8))
            #expect(rejected.status == 400)

            let after = try await metrics(server.port)
            #expect(after.value("demosync_captures_total", ["outcome": "approved"]) == approvedBefore + 3)
            #expect((after.value("demosync_captures_total", ["outcome": "rejected"]) ?? 0) >= 1)
            #expect((after.value("demosync_capture_duration_seconds_count") ?? 0) >= 4)
            #expect(after.value("demosync_pending_captures") == 0)
            try await waitFor("librdkafka statistics", timeout: .seconds(30)) {
                try await metrics(server.port).value("demosync_kafka_broker_rtt_seconds", ["client": "producer", "stat": "avg"]) != nil
            }
            let simulatorMetrics = try await metrics(healthPort)
            #expect((simulatorMetrics.value("demosync_simulator_requests_total", ["outcome": "answered"]) ?? 0) >= 3)
        }

        @Test("a W3C trace id sent over HTTP goes through Kafka to the simulator and comes back on the reply")
        func traceContextPropagates() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "0"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }

            let traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
            let callerSpan = "00f067aa0ba902b7"
            let result = try await PaymentsAPIClient(baseURL: server.url).capture(
                request("tx_traced"), headers: [("traceparent", "00-\(traceID)-\(callerSpan)-01")])
            #expect(result.status == 200)
            #expect(result.header("traceresponse")?.contains(traceID) == true, "the answer names the trace")

            func traceparent(in topic: String) async throws -> String? {
                let consumer = try KafkaConsumer(
                    configuration: broker.configuration(), subscription: .allPartitions(of: [topic], from: .beginning), logger: logger)
                var iterator = consumer.messages.makeAsyncIterator()
                let record = await iterator.next()
                await consumer.close()
                return record?.headers.lastValue(named: "traceparent")
            }
            let requestTrace = try #require(try await traceparent(in: "payment-requests"))
            let replyTrace = try #require(try await traceparent(in: "payment-responses"))
            #expect(requestTrace.contains(traceID), "the request record carries the caller's trace")
            #expect(!requestTrace.contains(callerSpan), "as a child span of the caller's")
            #expect(replyTrace.contains(traceID), "the simulator continued the trace and returned it on the reply")
            #expect(replyTrace != requestTrace, "from a span of its own")
        }

        @Test("SIGTERM during a burst: every capture in flight is answered, nothing is left pending, serve exits 0")
        func gracefulShutdownOfServe() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "1500ms"], environment: environment)
            defer { Task { await simulator.terminate() } }
            try await simulator.waitUntilSimulatorReady()
            let server = try await DemoSync.serve(environment: environment)
            let client = PaymentsAPIClient(baseURL: server.url)

            let burst = Task {
                try await withThrowingTaskGroup(of: CaptureResult.self) { group in
                    for index in 0..<40 { group.addTask { try await client.capture(request("tx_burst_\(index)")) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            try await waitFor("the burst to be in flight") { try await metrics(server.port).value("demosync_pending_captures") == 40 }
            server.process.signal(SIGTERM)
            let results = try await burst.value
            #expect(results.count == 40)
            #expect(results.allSatisfy { $0.status == 200 }, "statuses: \(results.map(\.status))")
            let status = await server.process.waitForExit(timeout: .seconds(60))
            #expect(status == 0)
            #expect(server.process.output.contains("pending=0"))
            #expect(server.process.output.contains("stopped"))
        }

        @Test("SIGTERM to simulate mid-burst: it finishes what it started and commits; a successor answers the rest; nothing is lost")
        func gracefulShutdownOfSimulate() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let healthPort = try FreePort.find()
            let first = try DemoSync.simulate(["--delay", "1s", "--concurrency", "10", "--health-port", "\(healthPort)"], environment: environment)
            try await first.waitUntilSimulatorReady()
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }
            let client = PaymentsAPIClient(baseURL: server.url)

            let burst = Task {
                try await withThrowingTaskGroup(of: CaptureResult.self) { group in
                    for index in 0..<30 { group.addTask { try await client.capture(request("tx_sim_burst_\(index)")) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
            }
            try await waitFor("the simulator to be busy") {
                (try await metrics(healthPort).value("demosync_simulator_in_flight") ?? 0) >= 5
            }
            first.signal(SIGTERM)
            #expect(await first.waitForExit(timeout: .seconds(60)) == 0)
            #expect(first.output.contains("simulator stopped"))
            let successor = try DemoSync.simulate(["--delay", "100ms"], environment: environment, name: "simulate-successor")
            defer { Task { await successor.terminate() } }

            let results = try await burst.value
            #expect(results.count == 30)
            #expect(results.allSatisfy { $0.status == 200 }, "statuses: \(results.map(\.status))")
        }

        @Test("with tokens configured, /api needs a bearer token: 401 with WWW-Authenticate without, 200 with; the token is never logged")
        func bearerAuthentication() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "1"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let token = "s3cr3t-token-\(UUID().uuidString)"
            let server = try await DemoSync.serve(["--log-format", "json"], environment: environment.merging(["DEMOSYNC_AUTH_TOKENS": token]) { $1 })
            defer { Task { await server.process.terminate() } }
            let client = PaymentsAPIClient(baseURL: server.url)

            let anonymous = try await client.capture(request("tx_auth"))
            #expect(anonymous.status == 401)
            #expect(anonymous.header("WWW-Authenticate")?.hasPrefix("Bearer") == true)
            #expect(anonymous.error?.errorCode == "unauthorized")
            let wrong = try await client.capture(request("tx_auth"), headers: [("Authorization", "Bearer \(token)x")])
            #expect(wrong.status == 401)
            let authorized = try await client.capture(request("tx_auth"), headers: [("Authorization", "Bearer \(token)")])
            #expect(authorized.status == 200)
            #expect(await HTTPProbe.status(port: server.port, path: "/health/ready") == 200, "health stays open")

            let capture = try await DemoSync.capture(["--amount", "1", "--url", server.url], environment: ["DEMOSYNC_API_TOKEN": token])
            #expect(capture.status == 0)
            let log = server.process.output
            #expect(!log.contains(token))
            let lines = log.split(separator: "\n")
            #expect(!lines.isEmpty)
            #expect(lines.allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) is [String: Any] }, "one JSON object per line")
            #expect(lines.contains { $0.contains(#""transaction_id":"tx_auth""#) && $0.contains(#""message":"capture""#) })
        }
    }
}
