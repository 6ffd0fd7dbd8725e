import Foundation
import Testing
import TestSupport

extension EndToEnd {
    /// `make run`'s script (scripts/run-local.sh) with the real binary and broker, on free ports:
    /// it says "ready" only once the simulator has its partitions, a normal start warns about
    /// nothing, and SIGTERM stops the API, then the simulator, then the broker, quietly.
    @Suite("End to end: make run tells the truth", .serialized)
    struct MakeRunTests {
        @Test("ready only once the simulator is assigned; no warnings at start or stop; stopped API, simulator, broker in order")
        func runLocal() async throws {
            let environment = [
                "DEMOSYNC_BIN": try DemoSync.executable(), "DEMOSYNC_TANSU": try LocalBroker.executable(),
                "DEMOSYNC_BROKER_PORT": "\(try FreePort.find())", "DEMOSYNC_HTTP_PORT": "\(try FreePort.find())",
                "DEMOSYNC_SIMULATOR_HEALTH_PORT": "\(try FreePort.find())", "PROCESSING_DELAY_MS": "100",
            ]
            let script = PackagePaths.root.appending(path: "scripts/run-local.sh").path
            let run = try ManagedProcess.launch(executable: "/bin/bash", arguments: [script], environment: environment, name: "make-run")
            // Its components run in sessions of their own: only the script's SIGTERM stops them.
            defer { Task { await run.terminate(grace: .seconds(30)) } }
            try await run.waitForOutput("[run] ready on", timeout: .seconds(90))
            let started = run.output
            let assigned = try #require(started.range(of: "partitions assigned"), "the simulator was assigned before ready")
            let ready = try #require(started.range(of: "[run] ready on"))
            #expect(assigned.lowerBound < ready.lowerBound)
            #expect(started.range(of: "verdict journal loaded")!.lowerBound < ready.lowerBound)
            let warnings = started.split(separator: "\n").filter { $0.contains(" warning ") || $0.contains(" error ") }
            #expect(warnings.isEmpty, "a normal start warns about nothing: \(warnings)")

            run.signal(SIGTERM)
            let status = await run.waitForExit(timeout: .seconds(60))
            #expect(status != nil)
            let stopping = String(run.output[run.output.range(of: "[run] stopping")!.lowerBound...])
            let stopWarnings = stopping.split(separator: "\n").filter { $0.contains(" warning ") || $0.contains(" error ") }
            #expect(stopWarnings.isEmpty, "no broker-down warnings on the way out: \(stopWarnings)")
            let apiStopped = try #require(stopping.range(of: "[api]"), "\(stopping)")
            let simulatorStopped = try #require(stopping.range(of: "simulator stopped"), "\(stopping)")
            #expect(apiStopped.lowerBound < simulatorStopped.lowerBound, "the API first, then the simulator")
            #expect(stopping.contains("[run] stopped"))
        }
    }
}
