import Foundation
import Kafka
import Logging
import Synchronization

/// The raw Kafka request-reply round trip, through our wrapper and the real broker, with no HTTP.
///
/// One process plays both sides with the client settings of the product:
/// - the requester is configured like `serve`: a producer with `message.timeout.ms` set, and a
///   reply consumer that assigns every partition of the reply topic itself (no group);
/// - the responder is configured like `simulate`: a group consumer of the request topic with
///   `auto.offset.reset=earliest` and manual acknowledgements, and a producer of its own that
///   answers each request on the reply topic, keyed by the request's key.
///
/// With `--journal` the responder first produces each request to a third topic and awaits its
/// acknowledgement, as `simulate` journals each verdict before it replies: the difference between
/// the two runs is the cost of that extra hop. `--compact-journal` creates that topic compacted, as
/// `simulate` creates its verdict topic.
///
/// A round trip is timed from just before the request is produced to the moment its reply is
/// read, which is what `serve` waits for. `--concurrency C` runs C requesters side by side.
enum KafkaRoundTrip {
    struct Options {
        var bootstrapServers: String
        var count = 2_000
        var warmup = 200
        var concurrency = 1
        var partitions = 3
        var journal = false
        /// Create the journal topic compacted (`cleanup.policy=compact`), as `simulate` creates its
        /// verdict topic.
        var compactJournal = false
        var samplesFile: String?
        var timeoutSeconds = 300

        init(_ arguments: inout BenchArguments) throws(BenchUsageError) {
            guard let servers = arguments.string("bootstrap-servers") else { throw BenchUsageError("--bootstrap-servers is required") }
            bootstrapServers = servers
            count = try arguments.integer("count", in: 1...10_000_000) ?? count
            warmup = try arguments.integer("warmup", in: 0...10_000_000) ?? warmup
            concurrency = try arguments.integer("concurrency", in: 1...100_000) ?? concurrency
            partitions = try arguments.integer("partitions", in: 1...1_000) ?? partitions
            journal = arguments.flag("journal")
            compactJournal = arguments.flag("compact-journal")
            samplesFile = arguments.string("samples-file")
            timeoutSeconds = try arguments.integer("timeout-seconds", in: 1...86_400) ?? timeoutSeconds
        }
    }

    /// What one run measured, as the JSON object the command prints.
    struct Result {
        let json: String
    }

    static func run(_ options: Options) async throws -> Result {
        var logger = Logger(label: "demosync-bench")
        logger.logLevel = .warning
        // A broken setup must not hang `make bench`.
        let watchdog = Task {
            try await Task.sleep(for: .seconds(options.timeoutSeconds))
            FileHandle.standardError.write(Data("demosync-bench: kafka-roundtrip did not finish in \(options.timeoutSeconds) s\n".utf8))
            exit(3)
        }
        defer { watchdog.cancel() }

        let suffix = UUID().uuidString.prefix(8).lowercased()
        let topics = Topics(
            request: "bench-requests-\(suffix)", reply: "bench-replies-\(suffix)", journal: "bench-journal-\(suffix)")

        // serve's clients.
        let serveKafka = KafkaConfiguration(bootstrapServers: options.bootstrapServers, clientID: "demosync-serve", profile: .local)
        let requester = try KafkaProducer(
            configuration: serveKafka, componentSettings: ["message.timeout.ms": "30000"], logger: logger)
        try await requester.admin.createTopicsIfMissing(
            [topics.request, topics.reply].map { KafkaTopicSpecification(name: $0, partitions: options.partitions) } + [
                KafkaTopicSpecification(
                    name: topics.journal, partitions: options.partitions, configs: options.compactJournal ? ["cleanup.policy": "compact"] : [:])
            ])
        let replies = try KafkaConsumer(
            configuration: serveKafka, subscription: .allPartitions(of: [topics.reply], from: .end), bufferCapacity: 10_000,
            logger: logger)

        // simulate's clients.
        let simulateKafka = KafkaConfiguration(bootstrapServers: options.bootstrapServers, clientID: "demosync-simulate", profile: .local)
        let responderProducer = try KafkaProducer(configuration: simulateKafka, logger: logger)
        let requests = try KafkaConsumer(
            configuration: simulateKafka, subscription: .group(id: "demosync-bench-\(suffix)", topics: [topics.request]),
            componentSettings: ["auto.offset.reset": "earliest"], bufferCapacity: 1_000, logger: logger)

        let waiters = ReplyWaiters()
        let dispatcher = Task {
            for await message in replies.messages {
                if let key = message.keyString { waiters.complete(key, replied: true) }
            }
        }
        let responder = Task {
            await Responder(consumer: requests, producer: responderProducer, topics: topics, journal: options.journal).run()
        }

        let positioningStarted = ContinuousClock.now
        await replies.waitUntilPositioned()
        await requests.waitUntilPositioned()
        let positioning = positioningStarted.duration(to: .now)

        let requesterSide = Requester(producer: requester, waiters: waiters, topic: topics.request)
        _ = try await requesterSide.run(count: options.warmup, concurrency: options.concurrency)
        let started = ContinuousClock.now
        let samples = try await requesterSide.run(count: options.count, concurrency: options.concurrency)
        let elapsed = started.duration(to: .now)

        requests.stopDelivering()
        await requests.close()
        await replies.close()
        await responderProducer.close()
        await requester.close()
        dispatcher.cancel()
        responder.cancel()

        if let path = options.samplesFile {
            let text = samples.map { String(format: "%.1f", $0) }.joined(separator: "\n") + "\n"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
        }
        let summary = LatencySummary(microseconds: samples)
        let seconds = elapsed.microseconds / 1_000_000
        let object: [String: Any] = [
            "benchmark": "kafka-roundtrip",
            "librdkafka": LibrdkafkaVersion.runningDescription,
            "count": options.count,
            "warmup": options.warmup,
            "concurrency": options.concurrency,
            "partitions": options.partitions,
            "journal_hop": options.journal,
            "journal_compacted": options.compactJournal,
            "positioning_s": positioning.microseconds / 1_000_000,
            "elapsed_s": seconds,
            "throughput_per_s": seconds > 0 ? Double(options.count) / seconds : 0,
            "latency_us": [
                "min": summary.minimum, "mean": summary.mean, "p50": summary.p50, "p90": summary.p90, "p99": summary.p99,
                "p99_9": summary.p999, "max": summary.maximum,
            ],
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return Result(json: String(decoding: data, as: UTF8.self))
    }

    struct Topics: Sendable {
        let request: String
        let reply: String
        let journal: String
    }
}

/// The requesting side: produces a request and waits for the reply with the same key.
struct Requester: Sendable {
    let producer: KafkaProducer
    let waiters: ReplyWaiters
    let topic: String

    /// Runs `count` round trips, `concurrency` at a time, and returns their latencies in µs.
    func run(count: Int, concurrency: Int) async throws -> [Double] {
        guard count > 0 else { return [] }
        let issued = IssueCounter()
        return try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<min(concurrency, count) {
                group.addTask {
                    var latencies: [Double] = []
                    while issued.next() <= count {
                        latencies.append(try await roundTrip())
                    }
                    return latencies
                }
            }
            var all: [Double] = []
            all.reserveCapacity(count)
            for try await latencies in group { all += latencies }
            return all
        }
    }

    /// One round trip, in microseconds.
    private func roundTrip() async throws -> Double {
        let id = UUID().uuidString.lowercased()
        let deadline = Int64(Date().timeIntervalSince1970 * 1_000) + 30_000
        // The shape and size of what serve produces for a capture.
        let value = #"{"amount":100.50,"correlation_id":"\#(id)","currency":"BRL","transaction_id":"tx_bench_\#(id.prefix(12))"}"#
        let record = KafkaRecord(
            topic: topic, key: id, value: Array(value.utf8),
            headers: [
                KafkaHeader(name: "correlation-id", value: id), KafkaHeader(name: "content-type", value: "application/json"),
                KafkaHeader(name: "deadline", value: String(deadline)),
            ])
        let producer = self.producer
        let waiters = self.waiters
        waiters.expect(id)
        let start = ContinuousClock.now
        async let delivered: Void = {
            do {
                try await producer.send(record)
            } catch {
                waiters.complete(id, replied: false)
                throw error
            }
        }()
        let replied = await waiters.wait(id)
        let elapsed = start.duration(to: .now)
        try await delivered
        guard replied else { throw BenchUsageError("no reply for \(id): the request could not be sent") }
        return elapsed.microseconds
    }
}

/// Hands out round-trip numbers to the concurrent requesters.
final class IssueCounter: Sendable {
    private let value = Atomic(0)

    /// 1, 2, 3, … across all callers.
    func next() -> Int { value.add(1, ordering: .relaxed).newValue }
}

/// The responding side: answers every request on the reply topic, keyed like the request.
struct Responder: Sendable {
    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let topics: KafkaRoundTrip.Topics
    let journal: Bool

    func run() async {
        await withDiscardingTaskGroup { group in
            for await message in consumer.messages {
                group.addTask {
                    let id = message.keyString ?? ""
                    if journal {
                        _ = try? await producer.send(KafkaRecord(topic: topics.journal, key: message.key, value: message.value))
                    }
                    // The shape and size of a simulator's approval.
                    let value = #"{"authorization_code":"042517","correlation_id":"\#(id)","status":"approved","transaction_id":"tx_bench_\#(id.prefix(12))"}"#
                    let reply = KafkaRecord(
                        topic: topics.reply, key: message.key, value: Array(value.utf8),
                        headers: [KafkaHeader(name: "correlation-id", value: id), KafkaHeader(name: "content-type", value: "application/json")])
                    _ = try? await producer.send(reply)
                    consumer.acknowledge(message)
                }
            }
        }
    }
}

/// Pairs replies with their waiting requesters. A reply may arrive before its requester starts
/// waiting (the produce call is still returning): it is kept until then.
final class ReplyWaiters: Sendable {
    private enum Slot {
        case expected
        case waiting(CheckedContinuation<Bool, Never>)
        case arrived(Bool)
    }

    private let slots = Mutex<[String: Slot]>([:])

    func expect(_ id: String) {
        slots.withLock { $0[id] = .expected }
    }

    /// Ends the wait for `id`: `replied` is false when the request could not be sent.
    func complete(_ id: String, replied: Bool) {
        let continuation: CheckedContinuation<Bool, Never>? = slots.withLock { slots in
            switch slots[id] {
            case .expected:
                slots[id] = .arrived(replied)
                return nil
            case .waiting(let continuation):
                slots[id] = nil
                return continuation
            case .arrived, nil:
                return nil
            }
        }
        continuation?.resume(returning: replied)
    }

    func wait(_ id: String) async -> Bool {
        await withCheckedContinuation { continuation in
            let immediate: Bool? = slots.withLock { slots in
                if case .arrived(let replied) = slots[id] {
                    slots[id] = nil
                    return replied
                }
                slots[id] = .waiting(continuation)
                return nil
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
