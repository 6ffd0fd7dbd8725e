import Foundation
import Kafka
import Payments
import PaymentsClient
import Testing
import TestSupport

extension EndToEnd {
    /// Three `serve` replicas and two simulators sharing one broker, a few thousand captures spread
    /// over the replicas, in each reply-routing mode: every capture is answered, in time, with its own
    /// answer.
    @Suite("End to end: scale-out across replicas", .serialized)
    struct ScaleOutTests {
        private func run(routing: [String], captures: Int, prefix: String) async throws {
            let broker = try await LocalBroker.start()
            defer { Task { await broker.stop() } }
            let environment = DemoSync.environment(broker: broker)
            let simulators = try (0..<2).map {
                try DemoSync.simulate(["--delay", "5ms"], environment: environment, name: "simulate-\($0)")
            }
            defer { Task { for simulator in simulators { await simulator.terminate() } } }
            var servers: [RunningServer] = []
            for (index, mode) in routing.enumerated() {
                servers.append(try await DemoSync.serve(["--reply-routing", mode, "--timeout", "30s"], environment: environment, name: "serve-\(index)"))
            }
            defer { Task { [servers] in for server in servers { await server.process.terminate() } } }

            let sent = try await HTTPLoad.captures(count: captures, urls: servers.map(\.url), concurrency: 48, prefix: prefix)
            #expect(sent.count == captures)
            let failures = sent.filter { $0.result.status != 200 }
            if !failures.isEmpty {
                let ownedTopics = routing.compactMap { $0.hasPrefix("topic=") ? String($0.dropFirst("topic=".count)) : nil }
                let trail = try await TopicTrail.find(failures.map(\.transactionID), broker: broker, alsoIn: ownedTopics)
                let notices = servers.map { server in
                    server.process.output.split(separator: "\n").filter { !$0.contains(" info ") }.suffix(20).joined(separator: "\n")
                }
                Issue.record(
                    "\(failures.count) captures failed; first: \(failures[0].result.status) \(failures[0].result.bodyText); trail: \(trail); replicas said: \(notices)")
            }
            let misdelivered = sent.filter { $0.result.response?.transactionID != $0.transactionID }
            #expect(misdelivered.isEmpty, "every answer reached the waiter of its own transaction")
            let replicasUsed = Set(sent.map(\.url))
            #expect(replicasUsed.count == 3)
        }

        @Test("every replica reads every reply partition (the default)")
        func allPartitions() async throws {
            try await run(routing: ["all", "all", "all"], captures: 2_000, prefix: "tx_all")
        }

        @Test("each replica owns one partition of the reply topic")
        func ownedPartitions() async throws {
            try await run(routing: ["partition=0", "partition=1", "partition=2"], captures: 2_000, prefix: "tx_part")
        }

        @Test("each replica owns a reply topic of its own")
        func ownedTopics() async throws {
            try await run(routing: ["topic=replies-a", "topic=replies-b", "topic=replies-c"], captures: 600, prefix: "tx_topic")
        }
    }
}
