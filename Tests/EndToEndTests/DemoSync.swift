import Foundation
import Kafka
import TestSupport

/// The built `demosync` binary, run as a user would run it.
enum DemoSync {
    /// `$DEMOSYNC_BIN` (set by `make test`), else the debug build in `.build`.
    static func executable() throws -> String {
        if let path = ProcessInfo.processInfo.environment["DEMOSYNC_BIN"], !path.isEmpty { return path }
        let candidate = PackagePaths.root.appending(path: ".build/debug/demosync").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestSupportError("demosync is not built: run `make test` (or set DEMOSYNC_BIN)")
        }
        return candidate
    }

    /// The environment that points a command at a broker with the local profile, with the
    /// original's variable names.
    static func environment(broker: LocalBroker, requestTopic: String = "payment-requests", replyTopic: String = "payment-responses")
        -> [String: String]
    {
        [
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrapServers,
            "KAFKA_REQUEST_TOPIC": requestTopic,
            "KAFKA_RESPONSE_TOPIC": replyTopic,
            "DEMOSYNC_KAFKA_PROFILE": "local",
            "DEMOSYNC_LOG_LEVEL": "info",
        ]
    }

    /// Starts `demosync serve` on a free port and waits until it reports ready.
    static func serve(
        _ arguments: [String] = [], environment: [String: String], name: String = "serve", waitForReady: Bool = true
    ) async throws -> RunningServer {
        let port = try FreePort.find()
        let process = try ManagedProcess.launch(
            executable: executable(), arguments: ["serve", "--host", "127.0.0.1", "--port", "\(port)"] + arguments,
            environment: environment, name: name)
        let server = RunningServer(process: process, port: port)
        try await FreePort.waitUntilListening(port: port, timeout: .seconds(30))
        if waitForReady { try await server.waitUntilReady() }
        return server
    }

    /// Starts `demosync simulate`, without its health port unless the arguments ask for one (so
    /// that several simulators can run side by side).
    static func simulate(_ arguments: [String] = [], environment: [String: String], name: String = "simulate") throws -> ManagedProcess {
        let health = arguments.contains("--health-port") ? [] : ["--health-port", "off"]
        return try ManagedProcess.launch(
            executable: executable(), arguments: ["simulate"] + arguments + health, environment: environment, name: name)
    }

    /// Runs `demosync capture` to completion and returns its exit code, stdout and stderr.
    static func capture(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
        let process = try ManagedProcess.launch(
            executable: executable(), arguments: ["capture"] + arguments, environment: environment, name: "capture",
            separateStandardError: true)
        guard let status = await process.waitForExit(timeout: .seconds(120)) else {
            await process.terminate()
            throw TestSupportError("demosync capture did not finish")
        }
        return CommandResult(status: status, output: process.output, errorOutput: process.errorOutput)
    }

    /// Runs `demosync` with any arguments to completion.
    static func run(_ arguments: [String], environment: [String: String] = [:]) async throws -> CommandResult {
        let process = try ManagedProcess.launch(
            executable: executable(), arguments: arguments, environment: environment, name: "cli", separateStandardError: true)
        guard let status = await process.waitForExit(timeout: .seconds(60)) else {
            await process.terminate()
            throw TestSupportError("demosync \(arguments.joined(separator: " ")) did not finish")
        }
        return CommandResult(status: status, output: process.output, errorOutput: process.errorOutput)
    }
}

extension ManagedProcess {
    /// Waits until the process has printed `text` (a log line announcing a state).
    func waitForOutput(_ text: String, timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !output.contains(text) {
            guard ContinuousClock.now < deadline, isRunning else {
                throw TestSupportError("\(name) did not print \"\(text)\": \(output.suffix(2_000))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Waits until a simulator has joined its group and loaded its verdict journal.
    func waitUntilSimulatorReady() async throws {
        try await waitForOutput("partitions assigned")
        try await waitForOutput("verdict journal loaded")
    }
}

/// How a finished command ended.
struct CommandResult: Sendable {
    let status: Int32
    let output: String
    let errorOutput: String

    /// Standard output parsed as one JSON object.
    var json: [String: Any]? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("{") }) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    }
}

/// A running `demosync serve`.
struct RunningServer: Sendable {
    let process: ManagedProcess
    let port: Int

    var url: String { "http://127.0.0.1:\(port)" }

    func waitUntilReady(timeout: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if await HTTPProbe.status(port: port, path: "/health/ready") == 200 { return }
            guard process.isRunning else { throw TestSupportError("serve exited: \(process.output)") }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("serve on \(port) not ready after \(timeout): \(process.output.suffix(2_000))")
    }
}
