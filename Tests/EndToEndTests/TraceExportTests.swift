import Foundation
import Payments
import PaymentsClient
import Testing
import TestSupport

extension EndToEnd {
    /// Traces exported over OTLP/HTTP by serve and simulate, received by an OTLP receiver in the
    /// test (``OTLPReceiver``).
    @Suite("Traces exported over OTLP")
    struct TraceExportTests {


        @Test("one capture is one trace: HTTP → produce → consume → reply → deliver, across serve and simulate")
        func oneCaptureOneTrace() async throws {
            let receiver = try await OTLPReceiver.start()
            defer { Task { await receiver.stop() } }
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            var environment = DemoSync.environment(broker: broker)
            environment["OTEL_BSP_SCHEDULE_DELAY"] = "100"
            // simulate by the standard variable, serve by the flag
            var simulatorEnvironment = environment
            simulatorEnvironment["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
            let simulator = try DemoSync.simulate(["--delay", "0"], environment: simulatorEnvironment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(["--otlp-endpoint", receiver.endpoint], environment: environment)
            defer { Task { await server.process.terminate() } }

            let result = try await PaymentsAPIClient(baseURL: server.url).capture(request("tx_otlp"))
            #expect(result.status == 200)
            let traceresponse = try #require(result.header("traceresponse"))
            let parts = traceresponse.split(separator: "-").map(String.init)
            try #require(parts.count == 4)
            let (traceID, httpSpanID) = (parts[1], parts[2])

            try await waitFor("the capture's five spans", timeout: .seconds(30)) {
                receiver.spans.filter { $0.traceID == traceID }.count >= 5
            }
            let spans = receiver.spans.filter { $0.traceID == traceID }
            #expect(spans.count == 5, "\(spans)")
            func span(_ name: String) throws -> OTLPReceiver.ReceivedSpan {
                try #require(spans.first { $0.name == name }, "no \(name) span in \(spans)")
            }
            let http = try #require(spans.first { $0.kind == 2 }, "no server span in \(spans)")
            let produce = try span("produce capture request")
            let consume = try span("process capture request")
            let reply = try span("produce capture reply")
            let deliver = try span("deliver capture reply")

            #expect(http.spanID == httpSpanID, "traceresponse names the HTTP span")
            #expect(http.parentSpanID.isEmpty, "the HTTP span is the root (no caller trace)")
            #expect(produce.parentSpanID == http.spanID)
            #expect(consume.parentSpanID == produce.spanID, "across Kafka, by the request record's traceparent")
            #expect(reply.parentSpanID == consume.spanID)
            #expect(deliver.parentSpanID == reply.spanID, "back across Kafka, by the reply record's traceparent")
            let kinds: [Int] = [http.kind, produce.kind, consume.kind, reply.kind, deliver.kind]
            #expect(kinds == [2, 4, 5, 4, 5])
            #expect([http, produce, deliver].allSatisfy { $0.serviceName == "demosync-serve" }, "\(spans)")
            #expect([consume, reply].allSatisfy { $0.serviceName == "demosync-simulate" }, "\(spans)")
        }

        @Test("what swift-otel cannot do is a usage error (exit 2), not a crash")
        func unsupportedSettings() async throws {
            let grpc = try await DemoSync.run(["serve", "--otlp-endpoint", "http://127.0.0.1:4317", "--otlp-protocol", "grpc"])
            #expect(grpc.status == 2)
            #expect(grpc.errorOutput.contains("--otlp-protocol") && grpc.errorOutput.contains("grpc"), "\(grpc.errorOutput)")
            let sampler = try await DemoSync.run(
                ["simulate"], environment: ["OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_SAMPLER": "jaeger_remote"])
            #expect(sampler.status == 2)
            #expect(sampler.errorOutput.contains("OTEL_TRACES_SAMPLER"), "\(sampler.errorOutput)")
            let exporter = try await DemoSync.run(["simulate"], environment: ["OTEL_TRACES_EXPORTER": "zipkin"])
            #expect(exporter.status == 2)
            #expect(exporter.errorOutput.contains("OTEL_TRACES_EXPORTER"), "\(exporter.errorOutput)")
        }

        @Test("a collector that never answers neither slows nor fails captures; the dropped spans are counted")
        func unreachableCollector() async throws {
            let hanging = try await OTLPReceiver.start(answering: false)
            defer { Task { await hanging.stop() } }
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            var environment = DemoSync.environment(broker: broker)
            environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = hanging.endpoint
            environment["OTEL_BSP_SCHEDULE_DELAY"] = "100"
            environment["OTEL_BSP_MAX_QUEUE_SIZE"] = "16"
            environment["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = "4"
            environment["OTEL_EXPORTER_OTLP_TIMEOUT"] = "2000"
            let simulator = try DemoSync.simulate(["--delay", "0"], environment: environment)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: environment)
            defer { Task { await server.process.terminate() } }

            let client = PaymentsAPIClient(baseURL: server.url)
            // The first capture waits for the simulator to join its group: not the exporter's doing.
            #expect(try await client.capture(request("tx_hang_warmup")).status == 200)
            var slowest = Duration.zero
            for index in 0..<60 {
                let started = ContinuousClock.now
                let result = try await client.capture(request("tx_hang_\(index)"))
                slowest = max(slowest, ContinuousClock.now - started)
                #expect(result.status == 200)
            }
            #expect(slowest < .seconds(1), "a capture waited on the exporter: \(slowest)")

            try await waitFor("the dropped spans to be counted", timeout: .seconds(30)) {
                let metrics = try await PaymentsAPIClient(baseURL: server.url).get(path: "/metrics")
                let text = PrometheusText(metrics.bodyText)
                return (text.value("demosync_trace_spans_dropped_total", ["reason": "queue_full"]) ?? 0) > 0
            }
        }
    }
}
