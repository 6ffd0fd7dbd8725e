import Foundation
import Testing
import TestSupport

/// `/bin/sh -c` to completion.
enum Shell {
    static func run(_ script: String, in folder: URL? = nil) async throws -> (status: Int32, output: String) {
        let command = folder.map { "cd '\($0.path)' && \(script)" } ?? script
        let process = try ManagedProcess.launch(executable: "/bin/sh", arguments: ["-c", command], name: "sh")
        guard let status = await process.waitForExit(timeout: .seconds(60)) else {
            await process.terminate()
            throw TestSupportError("did not finish: \(script)")
        }
        return (status, process.output)
    }
}

extension EndToEnd {
    @Suite("End to end: HTTPS on serve", .serialized)
    struct HTTPSTests {
        @Test("serve over HTTPS with a certificate the test makes: demosync capture with --ca-file gets the verdict, without it the certificate is refused")
        func https() async throws {
            let authority = try await TestCertificateAuthority.make()
            let certificates = try await authority.issueServerCertificate()
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "0", "--approval-rate", "1"], environment: environment)
            defer { Task { await simulator.terminate() } }
            try await simulator.waitUntilSimulatorReady()
            let server = try await DemoSync.serve(
                ["--tls-certificate", certificates.certificate, "--tls-key", certificates.key], environment: environment, waitForReady: false)
            defer { Task { await server.process.terminate() } }
            let url = "https://127.0.0.1:\(server.port)"
            var ready = ""
            for _ in 0..<300 where ready != "200" {
                ready = try await Shell.run("curl -s -o /dev/null -w '%{http_code}' --cacert '\(authority.certificate)' \(url)/health/ready").output
                if ready != "200" { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(ready == "200", "ready over HTTPS")
            #expect(server.process.output.contains("http.scheme=https"))

            let captured = try await DemoSync.capture(["--amount", "7.00", "--url", url, "--ca-file", authority.certificate])
            #expect(captured.status == 0, "\(captured.output) \(captured.errorOutput)")
            #expect(captured.json?["status"] as? String == "approved")

            let untrusted = try await DemoSync.capture(["--amount", "7.00", "--url", url])
            #expect(untrusted.status == 1)
            #expect(untrusted.errorOutput.lowercased().contains("certificate") || untrusted.errorOutput.contains("handshake"), "\(untrusted.errorOutput)")

            let plain = try await Shell.run("curl -s -o /dev/null -w '%{http_code}' --max-time 5 http://127.0.0.1:\(server.port)/health/live")
            #expect(plain.output != "200", "no plain HTTP on the HTTPS port")
        }

        @Test("a TLS key without a certificate is a usage error; an unreadable certificate names the file")
        func badTLSFlags() async throws {
            let half = try await DemoSync.run(["serve", "--tls-key", "/nonexistent.key"])
            #expect(half.status == 2)
            #expect(half.errorOutput.contains("--tls-certificate"))
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let missing = try await DemoSync.run(
                ["serve", "--port", "0", "--tls-certificate", "/nonexistent.pem", "--tls-key", "/nonexistent.key"],
                environment: DemoSync.environment(broker: broker))
            #expect(missing.status == 1)
            #expect(missing.errorOutput.contains("/nonexistent.pem"), "\(missing.errorOutput)")
        }
    }
}
