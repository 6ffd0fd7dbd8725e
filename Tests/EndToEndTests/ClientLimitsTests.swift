import Foundation
import Payments
import PaymentsClient
import Testing
import TestSupport

extension EndToEnd {
    /// Slow and idle clients, with real sockets against the real binary: each kind of dawdling
    /// gets its connection closed, the excess over the connection cap a 503, and a capture that
    /// waits longer than every one of those deadlines still gets its answer.
    @Suite("End to end: limits against slow and idle clients", .serialized)
    struct ClientLimitsTests {
        static let deadlines = ["--header-timeout", "1s", "--body-timeout", "1s", "--idle-timeout", "2s"]

        private func socket(_ server: RunningServer) throws -> RawSocket {
            guard let socket = RawSocket(port: server.port) else { throw TestSupportError("cannot connect to \(server.url)") }
            return socket
        }

        @Test("a connection that sends nothing, one that trickles its head, a stalled body and an idle keep-alive are closed; a 3 s capture is not cut")
        func deadlines() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulator = try DemoSync.simulate(["--delay", "3s"], environment: environment)
            defer { Task { await simulator.terminate() } }
            try await simulator.waitUntilSimulatorReady()
            let server = try await DemoSync.serve(Self.deadlines + ["--timeout", "20s"], environment: environment)
            defer { Task { await server.process.terminate() } }

            let silent = try socket(server)
            #expect(silent.waitForClose(seconds: 15).closed, "a connection that never sends a request is closed")
            silent.close()

            let trickling = try socket(server)
            let trickle = Task.detached {
                guard trickling.trySend("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n") else { return 0 }
                var sent = 0
                for index in 0..<40 {
                    try? await Task.sleep(for: .milliseconds(250))
                    guard trickling.trySend("X-Slow-\(index): 1\r\n") else { break }
                    sent += 1
                }
                return sent
            }
            let trickled = trickling.waitForClose(seconds: 15)
            #expect(trickled.closed, "a head trickled a header at a time is cut at the header deadline")
            #expect(!trickled.received.contains("200 OK"))
            #expect(await trickle.value < 40, "the server closed before the client finished")
            trickling.close()

            let stalled = try socket(server)
            stalled.send("POST /api/v1/payments/capture HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"tr")
            #expect(stalled.waitForClose(seconds: 15).closed, "a body that stalls is cut")
            stalled.close()

            let keptAlive = try socket(server)
            keptAlive.send("GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let idle = keptAlive.waitForClose(seconds: 15)
            #expect(idle.received.hasPrefix("HTTP/1.1 200"), "answered first")
            #expect(idle.closed, "then closed when idle past --idle-timeout")
            keptAlive.close()

            // Longer than every deadline above: its own timeout governs it.
            let result = try await PaymentsAPIClient(baseURL: server.url).capture(
                CaptureRequest(transactionID: "tx_limits_slow", amount: Amount(exactly: "1.00")!, currency: CurrencyCode("BRL")!), timeout: .seconds(30))
            #expect(result.status == 200, "\(result.status) \(result.bodyText)")
        }

        @Test("beyond --max-connections a new connection gets 503 too_many_connections and is closed; once one closes, there is room again")
        func connectionCap() async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let server = try await DemoSync.serve(["--max-connections", "4"], environment: DemoSync.environment(broker: broker))
            defer { Task { await server.process.terminate() } }
            let held = try (0..<4).map { _ in try socket(server) }
            try await Task.sleep(for: .milliseconds(300))
            let excess = try socket(server)
            let refused = excess.waitForClose(seconds: 15)
            #expect(refused.closed)
            #expect(refused.received.hasPrefix("HTTP/1.1 503"), "\(refused.received)")
            #expect(refused.received.contains("too_many_connections"))
            excess.close()
            held[0].close()
            var status: Int?
            for _ in 0..<50 where status != 200 {
                try await Task.sleep(for: .milliseconds(100))
                status = await HTTPProbe.status(port: server.port, path: "/health/live")
            }
            #expect(status == 200)
            held.dropFirst().forEach { $0.close() }
        }
    }
}
