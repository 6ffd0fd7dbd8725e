import Foundation
import Payments
import PaymentsClient
import Testing
import TestSupport

extension EndToEnd {
    /// `serve` and `simulate` reaching the local broker only through TLS, configured as an
    /// operator would: a properties file with `security.protocol=ssl` and the CA. Tansu 0.6 cannot
    /// serve TLS itself, so stunnel terminates it in front of the broker, which advertises
    /// stunnel's port. And a SASL/SCRAM login the broker refuses. See docs/operations.md, "Kafka
    /// TLS and SASL".
    @Suite("End to end: Kafka over TLS, and a refused SASL login", .serialized)
    struct KafkaSecurityTests {
        @Test("through TLS with the CA that signed the broker's certificate a capture is approved; with another CA serve stays not ready, says why, and keeps answering")
        func tls() async throws {
            let authority = try await TestCertificateAuthority.make()
            let brokerCertificate = try await authority.issueServerCertificate()
            let stranger = try await TestCertificateAuthority.make(name: "other-ca", in: authority.folder)
            let broker = try await TLSLocalBroker.start(certificate: brokerCertificate)
            defer { Task { await broker.stop() } }

            let trusting = try Self.environment(broker: broker, authority: authority)
            let simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "1"], environment: trusting)
            defer { Task { await simulator.terminate() } }
            let server = try await DemoSync.serve(environment: trusting)
            defer { Task { await server.process.terminate() } }
            try await simulator.waitUntilSimulatorReady()

            let request = CaptureRequest(transactionID: "tx_tls_1", amount: Amount(exactly: "12.34")!, currency: CurrencyCode("BRL")!)
            let captured = try await PaymentsAPIClient(baseURL: server.url).capture(request, timeout: .seconds(30))
            #expect(captured.status == 200, "\(captured.bodyText)")
            #expect(captured.response?.status == .approved, "\(captured.bodyText)")

            // A CA that did not sign the broker's certificate: the handshake fails, and readiness
            // must say so within seconds instead of hanging or staying vague.
            let untrusting = try await DemoSync.serve(
                environment: Self.environment(broker: broker, authority: stranger), name: "serve-other-ca", waitForReady: false)
            defer { Task { await untrusting.process.terminate() } }
            let client = PaymentsAPIClient(baseURL: untrusting.url)
            let deadline = ContinuousClock.now + .seconds(20)
            var ready = try await client.get(path: "/health/ready", timeout: .seconds(5))
            while !Self.namesTLS(ready.bodyText), ContinuousClock.now < deadline {
                #expect(ready.status == 503, "\(ready.bodyText)")
                try await Task.sleep(for: .milliseconds(200))
                ready = try await client.get(path: "/health/ready", timeout: .seconds(5))
            }
            #expect(ready.status == 503, "\(ready.bodyText)")
            #expect(Self.namesTLS(ready.bodyText), "the reason names the TLS failure: \(ready.bodyText)")
            #expect(untrusting.process.isRunning)
            let live = try await client.get(path: "/health/live", timeout: .seconds(5))
            #expect(live.status == 200, "serve still answers: \(live.bodyText)")
            let refused = try await client.capture(
                CaptureRequest(transactionID: "tx_tls_2", amount: Amount(exactly: "1.00")!, currency: CurrencyCode("BRL")!), timeout: .seconds(10))
            #expect(refused.status == 503, "\(refused.bodyText)")
            #expect(broker.terminator.output.contains("unknown ca"), "stunnel saw the client refuse its certificate")
        }

        /// Tansu 0.6 cannot keep SCRAM users (its memory and S3 storage drop them: see
        /// docs/operations.md), so a SASL success cannot be tested against it; a refusal can, and
        /// it must be as clear as a TLS one.
        @Test("a SCRAM login the broker refuses leaves serve not ready, with the SASL failure as the reason")
        func saslRefused() async throws {
            let broker = try await LocalBroker.start(arguments: ["--authentication"])
            defer { Task { await broker.stop() } }
            let folder = FileManager.default.temporaryDirectory.appending(path: "demosync-sasl-\(UUID().uuidString.prefix(8))")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let file = folder.appending(path: "kafka.properties")
            try "security.protocol=sasl_plaintext\nsasl.mechanisms=SCRAM-SHA-256\nsasl.username=demosync-api\nsasl.password=not-known-here\n"
                .write(to: file, atomically: true, encoding: .utf8)
            var environment = DemoSync.environment(broker: broker)
            environment["DEMOSYNC_KAFKA_PROPERTIES_FILE"] = file.path
            let server = try await DemoSync.serve(environment: environment, name: "serve-sasl", waitForReady: false)
            defer { Task { await server.process.terminate() } }
            let client = PaymentsAPIClient(baseURL: server.url)
            let deadline = ContinuousClock.now + .seconds(20)
            var ready = try await client.get(path: "/health/ready", timeout: .seconds(5))
            while !ready.bodyText.contains("SASL"), ContinuousClock.now < deadline {
                #expect(ready.status == 503, "\(ready.bodyText)")
                try await Task.sleep(for: .milliseconds(200))
                ready = try await client.get(path: "/health/ready", timeout: .seconds(5))
            }
            #expect(ready.status == 503, "\(ready.bodyText)")
            #expect(ready.bodyText.contains("SASL"), "the reason names the SASL failure: \(ready.bodyText)")
            #expect(!ready.bodyText.contains("not-known-here"), "the password stays out of the reason")
            #expect(server.process.isRunning)
        }

        /// The local-profile environment pointed at the TLS port, with a properties file that
        /// trusts `authority`.
        private static func environment(broker: TLSLocalBroker, authority: TestCertificateAuthority) throws -> [String: String] {
            let file = authority.folder.appending(path: "kafka-\(authority.name).properties")
            try """
            # librdkafka properties, as an operator writes them
            security.protocol=ssl
            ssl.ca.location=\(authority.certificate)

            """.write(to: file, atomically: true, encoding: .utf8)
            var environment = DemoSync.environment(broker: broker.broker)
            environment["KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrapServers
            environment["DEMOSYNC_KAFKA_PROPERTIES_FILE"] = file.path
            return environment
        }

        /// Whether a readiness body's reason names TLS, SSL or the certificate.
        private static func namesTLS(_ body: String) -> Bool {
            let text = body.lowercased()
            return ["ssl", "tls", "certificate"].contains { text.contains($0) }
        }
    }
}
