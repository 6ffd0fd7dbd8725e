import Foundation

/// A TLS terminator (Debian's `stunnel4`, installed by `make deps`) in front of a local plaintext
/// server: it accepts TLS on `port` with the given certificate and forwards the plaintext to the
/// target port. Tansu 0.6 cannot serve TLS itself (see docs/operations.md, "Kafka TLS and SASL"),
/// so the TLS tests put one of these in front of the local broker, which advertises its port.
public final class TLSTerminator: Sendable {
    public let port: Int
    private let process: ManagedProcess

    private init(port: Int, process: ManagedProcess) {
        self.port = port
        self.process = process
    }

    /// Starts stunnel on `port`, forwarding to `targetPort` on the loopback interface, and waits
    /// until it accepts connections.
    public static func start(
        listeningOn port: Int, forwardingTo targetPort: Int, certificate: TestCertificateAuthority.ServerCertificate
    ) async throws -> TLSTerminator {
        let configuration = FileManager.default.temporaryDirectory.appending(path: "demosync-stunnel-\(port)-\(UUID().uuidString.prefix(8)).conf")
        try """
        foreground = yes
        pid =
        syslog = no
        debug = notice
        [kafka]
        accept = 127.0.0.1:\(port)
        connect = 127.0.0.1:\(targetPort)
        cert = \(certificate.certificate)
        key = \(certificate.key)

        """.write(to: configuration, atomically: true, encoding: .utf8)
        let process = try ManagedProcess.launch(
            executable: try executable(), arguments: [configuration.path], name: "stunnel-\(port)")
        let terminator = TLSTerminator(port: port, process: process)
        let started = ContinuousClock.now
        while process.isRunning, started.duration(to: .now) < .seconds(10) {
            if FreePort.isListening(port: port) { return terminator }
            try await Task.sleep(for: .milliseconds(20))
        }
        await process.terminate()
        throw TestSupportError("stunnel did not start on \(port): \(process.output.suffix(1_000))")
    }

    /// What stunnel logged (its handshake failures name the TLS alert).
    public var output: String { process.output }

    public func stop() async {
        await process.terminate()
    }

    /// `$DEMOSYNC_STUNNEL`, else `stunnel4` or `stunnel` on `PATH`.
    public static func executable() throws -> String {
        if let path = ProcessInfo.processInfo.environment["DEMOSYNC_STUNNEL"], !path.isEmpty { return path }
        return try Executables.find("stunnel4", "stunnel")
    }
}

/// The local broker reachable only through TLS: Tansu on a plaintext port, advertising the port
/// of a ``TLSTerminator`` in front of it, so that clients' every connection (bootstrap and the
/// broker the metadata names) goes through TLS.
public final class TLSLocalBroker: Sendable {
    public let broker: LocalBroker
    public let terminator: TLSTerminator

    /// `host:port` of the TLS listener.
    public var bootstrapServers: String { "127.0.0.1:\(terminator.port)" }

    private init(broker: LocalBroker, terminator: TLSTerminator) {
        self.broker = broker
        self.terminator = terminator
    }

    /// Starts the broker and stunnel with `certificate`, retrying on other ports when the TLS
    /// port was taken in between.
    public static func start(certificate: TestCertificateAuthority.ServerCertificate) async throws -> TLSLocalBroker {
        var lastError: any Error = TestSupportError("the TLS broker did not start")
        for _ in 0..<3 {
            let tlsPort = try FreePort.find()
            let broker = try await LocalBroker.start(advertisedPort: tlsPort)
            do {
                let terminator = try await TLSTerminator.start(listeningOn: tlsPort, forwardingTo: broker.port, certificate: certificate)
                return TLSLocalBroker(broker: broker, terminator: terminator)
            } catch {
                lastError = error
                await broker.stop()
            }
        }
        throw lastError
    }

    public func stop() async {
        await terminator.stop()
        await broker.stop()
    }
}
