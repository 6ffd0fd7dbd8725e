import Operations
import PaymentsClient
import Testing
import TestSupport

extension EndToEnd {
    @Suite("The demosync command line, as a process")
    struct CommandLineTests {
        @Test("--help on every subcommand prints its usage and exits 0", arguments: ["serve", "simulate", "capture"])
        func help(command: String) async throws {
            let result = try await DemoSync.run([command, "--help"])
            #expect(result.status == 0)
            #expect(result.output.contains("Usage: demosync \(command)"))
        }

        @Test("an unknown flag exits 2 with a clear message", arguments: ["serve", "simulate", "capture"])
        func unknownFlag(command: String) async throws {
            let result = try await DemoSync.run([command, "--frobnicate"])
            #expect(result.status == 2)
            #expect(result.errorOutput.contains("unknown option --frobnicate"))
        }

        @Test("a bad value exits 2 naming the flag and what was expected")
        func badValue() async throws {
            let port = try await DemoSync.run(["serve", "--port", "http"])
            #expect(port.status == 2)
            #expect(port.errorOutput.contains("--port"))
            let amount = try await DemoSync.run(["capture", "--amount", "12,50"])
            #expect(amount.status == 2)
            #expect(amount.errorOutput.contains("--amount"))
            let delay = try await DemoSync.run(["simulate"], environment: ["PROCESSING_DELAY_MS": "soon"])
            #expect(delay.status == 2)
            #expect(delay.errorOutput.contains("PROCESSING_DELAY_MS"))
        }

        @Test("--version prints DemoSync's version and librdkafka's; the start-up log and /metrics carry the same")
        func version() async throws {
            let result = try await DemoSync.run(["--version"])
            #expect(result.status == 0)
            #expect(result.output.hasPrefix("demosync \(DemoSyncVersion.current) (librdkafka 2."), "\(result.output)")
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let server = try await DemoSync.serve(environment: DemoSync.environment(broker: broker))
            defer { Task { await server.process.terminate() } }
            #expect(server.process.output.contains("version=\(DemoSyncVersion.current)"))
            let metrics = try await PaymentsAPIClient(baseURL: server.url).get(path: "/metrics").bodyText
            let line = metrics.split(separator: "\n").first { $0.hasPrefix("demosync_build_info{") }
            #expect(line?.contains(#"version="\#(DemoSyncVersion.current)""#) == true, "\(line ?? "no build info")")
            #expect(line?.contains("librdkafka=\"2.") == true)
            #expect(line?.hasSuffix(" 1") == true || line?.hasSuffix(" 1.0") == true)
        }
    }
}
