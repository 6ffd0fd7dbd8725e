import Foundation
import Kafka
import Logging
import PaymentsWire
import Synchronization

/// The raw Kafka request-reply round trip, through our wrapper and the real broker, with no HTTP:
/// the ceiling a capture can approach with the same Kafka settings.
///
/// One process plays both sides, with the client settings of the product and the same hops:
/// - the requester is configured like `serve`: a producer with `message.timeout.ms` set, and a
///   reply consumer that assigns every partition of the reply topic itself (no group);
/// - the responder is configured like `simulate`: a group consumer of the request topic with
///   `auto.offset.reset=earliest` and manual acknowledgements, and a producer that answers each
///   request on the reply topic, keyed by the request's key, and acknowledges it once the reply
///   is acknowledged.
///
/// With `--journal` the responder first produces each request to a compacted journal topic and
/// replies once that is acknowledged, and a third consumer follows the journal (with a 500 ms
/// fetch wait), as `simulate` journals each verdict before it replies.
///
/// With `--request-reader` the requester also reads every request back from the request topic
/// (all partitions, no group, a 50 ms fetch wait), as each `serve` replica's request observer
/// does for idempotency across replicas: the broker then serves the request topic twice.
///
/// It does strictly less work per round trip than `serve` + `simulate`: no HTTP, no JSON, no
/// registry, no task or continuation per message (every step continues in a delivery callback or
/// a consumer batch). `--concurrency C` keeps C round trips in flight (a closed loop, like wrk's
/// connections); `--turnaround-us N` puts a random pause of mean N µs between a reply and the
/// request it starts, as a client's turnaround through HTTP would. A round trip is timed from just before its request is produced to the moment its
/// reply is read.
enum KafkaRoundTrip {
    struct Options {
        var bootstrapServers: String
        var count = 2_000
        var warmup = 200
        var concurrency = 1
        /// Partitions of the request topic and the journal (keyed), and of the reply topic: by
        /// default the layout `serve` and `simulate` create on the same profile.
        var requestPartitions: Int?
        var replyPartitions = 3
        var journal = false
        /// With `--journal`, whether a consumer follows the journal as `simulate`'s does.
        var followJournal = true
        /// Whether a second consumer reads every request, as `serve`'s request observer does.
        var requestReader = false
        var profile = KafkaConfiguration.Profile.local
        var properties: [String: String] = [:]
        var samplesFile: String?
        var timeoutSeconds = 300
        /// Mean of the random pause (uniform, 0 to twice this) between a reply and the request it
        /// starts, in µs: what a client's turnaround through HTTP adds. 0 (the default) starts
        /// the next request inside the reply's batch, so round trips in flight move together.
        var turnaroundMicroseconds = 0

        var keyedPartitions: Int { requestPartitions ?? PaymentTopics.defaultRequestPartitions(for: profile) }
        /// Names the topics, so that runs can share them (the broker's growth); a fresh one by
        /// default.
        var topicSuffix: String?

        init(_ arguments: inout BenchArguments) throws(BenchUsageError) {
            guard let servers = arguments.string("bootstrap-servers") else { throw BenchUsageError("--bootstrap-servers is required") }
            bootstrapServers = servers
            count = try arguments.integer("count", in: 1...10_000_000) ?? count
            warmup = try arguments.integer("warmup", in: 0...10_000_000) ?? warmup
            concurrency = try arguments.integer("concurrency", in: 1...100_000) ?? concurrency
            if let chosen = try arguments.integer("partitions", in: 1...1_000) {
                (requestPartitions, replyPartitions) = (chosen, chosen)
            }
            journal = arguments.flag("journal")
            followJournal = !arguments.flag("no-journal-follower")
            requestReader = arguments.flag("request-reader")
            if let text = arguments.string("kafka-profile") {
                guard let chosen = KafkaConfiguration.Profile(rawValue: text) else { throw BenchUsageError("--kafka-profile is local or standard") }
                profile = chosen
            }
            for pair in arguments.strings("kafka-property") {
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw BenchUsageError("--kafka-property takes KEY=VALUE, not \(pair)")
                }
                properties[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
            samplesFile = arguments.string("samples-file")
            topicSuffix = arguments.string("topic-suffix")
            timeoutSeconds = try arguments.integer("timeout-seconds", in: 1...86_400) ?? timeoutSeconds
            turnaroundMicroseconds = try arguments.integer("turnaround-us", in: 0...1_000_000) ?? turnaroundMicroseconds
        }
    }

    /// What one run measured, as the JSON object the command prints.
    struct Result {
        let json: String
    }

    struct Topics: Sendable {
        let request: String
        let reply: String
        let journal: String
    }

    static func run(_ options: Options) async throws -> Result {
        var logger = Logger(label: "demosync-bench")
        logger.logLevel = .warning
        // A broken setup must not hang `make bench`; a stalled loop names what it still waits
        // for, so that the topics can be searched for those records afterwards.
        let running = RunningLoop()
        let watchdog = Task {
            try await Task.sleep(for: .seconds(options.timeoutSeconds))
            let waiting = running.loop.withLock { $0?.unansweredSummary() } ?? "no round trip started"
            FileHandle.standardError.write(Data("demosync-bench: kafka-roundtrip did not finish in \(options.timeoutSeconds) s; \(waiting)\n".utf8))
            exit(3)
        }
        defer { watchdog.cancel() }

        let suffix = options.topicSuffix ?? UUID().uuidString.prefix(8).lowercased()
        let topics = Topics(request: "bench-requests-\(suffix)", reply: "bench-replies-\(suffix)", journal: "bench-journal-\(suffix)")
        func kafka(_ clientID: String) -> KafkaConfiguration {
            KafkaConfiguration(bootstrapServers: options.bootstrapServers, clientID: clientID, profile: options.profile, properties: options.properties)
        }

        // serve's clients.
        // With serve's lingering client, used as serve uses it (see `RoundTripLoop.issue`).
        let requester = try KafkaProducer(
            configuration: kafka("demosync-serve"), componentSettings: ["message.timeout.ms": "30000"],
            lingeringClient: kafka("demosync-serve").lingeringClient, logger: logger)
        try await requester.admin.createTopicsIfMissing(
            [
                KafkaTopicSpecification(name: topics.request, partitions: options.keyedPartitions),
                KafkaTopicSpecification(name: topics.reply, partitions: options.replyPartitions),
                KafkaTopicSpecification(name: topics.journal, partitions: options.keyedPartitions, configs: ["cleanup.policy": "compact"]),
            ])
        let replies = try KafkaConsumer(
            configuration: kafka("demosync-serve"), subscription: .allPartitions(of: [topics.reply], from: .end),
            componentSettings: ["auto.offset.reset": "earliest"], bufferCapacity: 10_000, logger: logger)

        let requestReader =
            options.requestReader
            ? try KafkaConsumer(
                configuration: kafka("demosync-serve"), subscription: .allPartitions(of: [topics.request], from: .end),
                componentSettings: ["auto.offset.reset": "earliest", "fetch.wait.max.ms": "50"], bufferCapacity: 10_000, logger: logger)
            : nil

        // simulate's clients.
        // Replies sticky, as `simulate` sends them on the default reply topic.
        let responderProducer = try KafkaProducer(configuration: kafka("demosync-simulate"), stickyTopics: [topics.reply], logger: logger)
        let requests = try KafkaConsumer(
            configuration: kafka("demosync-simulate"), subscription: .group(id: "demosync-bench-\(suffix)", topics: [topics.request]),
            componentSettings: ["auto.offset.reset": "earliest"], bufferCapacity: 1_000, logger: logger)
        let journalFollower =
            options.journal && options.followJournal
            ? try KafkaConsumer(
                configuration: kafka("demosync-simulate"), subscription: .allPartitions(of: [topics.journal], from: .beginning),
                componentSettings: ["fetch.wait.max.ms": "500"], bufferCapacity: 10_000, logger: logger)
            : nil

        let positioningStarted = ContinuousClock.now
        await replies.waitUntilPositioned()
        await requests.waitUntilPositioned()
        await requestReader?.waitUntilPositioned()
        let positioning = positioningStarted.duration(to: .now)

        let loop = RoundTripLoop(
            producer: requester, topic: topics.request, total: options.warmup + options.count, warmup: options.warmup,
            turnaroundMicroseconds: options.turnaroundMicroseconds)
        running.loop.withLock { $0 = loop }
        let responder = Responder(consumer: requests, producer: responderProducer, topics: topics, journal: options.journal)
        let tasks = [
            Task { for await batch in replies.batches() { loop.replied(batch) } },
            Task { for await batch in requests.batches() { responder.answer(batch) } },
            Task {
                guard let journalFollower else { return }
                for await _ in journalFollower.batches() {}
            },
            Task {
                guard let requestReader else { return }
                for await _ in requestReader.batches() {}
            },
        ]
        let (samples, elapsed) = await loop.run(concurrency: options.concurrency)

        // The local profile's rising fetch wait (FetchStallWatch): a raise restarts a client, a
        // pause that shows in the figures.
        let fetchWaitRaises = [replies, requests, journalFollower, requestReader].compactMap { $0 }.reduce(0) { $0 + $1.fetchWaitRaiseCount }
        requests.stopDelivering()
        await requests.close()
        await replies.close()
        await journalFollower?.close()
        await requestReader?.close()
        await responderProducer.close()
        await requester.close()
        tasks.forEach { $0.cancel() }

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
            "partitions": ["request": options.keyedPartitions, "reply": options.replyPartitions, "journal": options.keyedPartitions],
            "journal_hop": options.journal,
            "request_reader": options.requestReader,
            "turnaround_us": options.turnaroundMicroseconds,
            "kafka_profile": options.profile.rawValue,
            "kafka_properties": options.properties,
            "positioning_s": positioning.microseconds / 1_000_000,
            "fetch_wait_raises": fetchWaitRaises,
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
}

/// The loop the watchdog reports on, once there is one.
final class RunningLoop: Sendable {
    let loop = Mutex<RoundTripLoop?>(nil)
}

/// The requesting side, as a closed loop: `concurrency` round trips in flight, each reply
/// starting the next request, until `total` have completed (the first `warmup` not timed).
final class RoundTripLoop: Sendable {
    private struct State {
        var started: [String: ContinuousClock.Instant] = [:]
        var issued = 0
        var completed = 0
        var samples: [Double] = []
        var measuringSince: ContinuousClock.Instant?
        var finished: CheckedContinuation<Void, Never>?
        var done = false
    }

    private let state = Mutex(State())
    private let producer: KafkaProducer
    private let topic: String
    private let total: Int
    private let warmup: Int
    private let turnaroundMicroseconds: Int
    /// Where paused requests wait for their start.
    private let turnarounds = DispatchQueue(label: "demosync-bench.turnaround")

    init(producer: KafkaProducer, topic: String, total: Int, warmup: Int, turnaroundMicroseconds: Int = 0) {
        self.producer = producer
        self.topic = topic
        self.total = total
        self.warmup = warmup
        self.turnaroundMicroseconds = turnaroundMicroseconds
    }

    /// Runs the loop; returns the timed round trips (µs) and how long they took.
    func run(concurrency: Int) async -> ([Double], Duration) {
        await withCheckedContinuation { continuation in
            state.withLock { $0.finished = continuation }
            for _ in 0..<min(concurrency, total) { issue() }
        }
        let (samples, since) = state.withLock { ($0.samples, $0.measuringSince) }
        return (samples, (since ?? .now).duration(to: .now))
    }

    /// What the loop still waits for: the counts and the ids (record keys) of up to 20 round
    /// trips without a reply, oldest first.
    func unansweredSummary() -> String {
        state.withLock { state in
            let oldest = state.started.sorted { $0.value < $1.value }.prefix(20).map(\.key)
            return "\(state.issued) issued, \(state.completed) answered, \(state.started.count) unanswered: \(oldest.joined(separator: ", "))"
        }
    }

    /// Replies read: each ends its round trip and starts the next.
    func replied(_ batch: [KafkaMessage]) {
        let now = ContinuousClock.now
        var next = 0
        let finished: CheckedContinuation<Void, Never>? = state.withLock { state in
            for message in batch {
                guard let key = message.keyString, let start = state.started.removeValue(forKey: key) else { continue }
                state.completed += 1
                if state.completed == warmup { state.measuringSince = now }
                if state.completed > warmup { state.samples.append(start.duration(to: now).microseconds) }
                if state.issued < total { next += 1 }
            }
            guard state.completed >= total, !state.done else { return nil }
            state.done = true
            return state.finished
        }
        if turnaroundMicroseconds == 0 {
            for _ in 0..<next { issue() }
        } else {
            for _ in 0..<next {
                let pause = Int.random(in: 0...(2 * turnaroundMicroseconds))
                turnarounds.asyncAfter(deadline: .now() + .microseconds(pause)) { self.issue() }
            }
        }
        finished?.resume()
    }

    private func issue() {
        let (number, start, othersInProgress) = state.withLock { state -> (Int, ContinuousClock.Instant, Int) in
            state.issued += 1
            if warmup == 0, state.measuringSince == nil { state.measuringSince = .now }
            return (state.issued, .now, state.started.count)
        }
        let id = "rt-\(number)"
        state.withLock { $0.started[id] = start }
        let deadline = Int64(Date().timeIntervalSince1970 * 1_000) + 30_000
        // The shape and size of what serve produces for a capture.
        let value = #"{"amount":100.50,"correlation_id":"\#(id)","currency":"BRL","transaction_id":"tx_bench_\#(number)"}"#
        let record = KafkaRecord(
            topic: topic, key: id, value: Array(value.utf8),
            headers: [
                KafkaHeader(name: "correlation-id", value: id), KafkaHeader(name: "content-type", value: "application/json"),
                KafkaHeader(name: "deadline", value: String(deadline)),
            ])
        do {
            try producer.produce(record, mayLinger: RecordBatching.mayLinger(othersInProgress: othersInProgress)) { outcome in
                if case .failure(let error) = outcome { FileHandle.standardError.write(Data("demosync-bench: request not delivered: \(error)\n".utf8)) }
            }
        } catch {
            FileHandle.standardError.write(Data("demosync-bench: request refused: \(error)\n".utf8))
        }
    }
}

/// The responding side: answers every request on the reply topic, keyed like the request,
/// after journaling it when asked to; acknowledges it once the reply is acknowledged.
struct Responder: Sendable {
    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let topics: KafkaRoundTrip.Topics
    let journal: Bool

    func answer(_ batch: [KafkaMessage]) {
        for message in batch {
            if journal {
                let verdict = KafkaRecord(topic: topics.journal, key: message.key, value: Array(#"{"authorization_code":"042517","status":"approved"}"#.utf8))
                try? producer.produce(verdict) { outcome in
                    if case .success = outcome { reply(to: message) }
                }
            } else {
                reply(to: message)
            }
        }
    }

    private func reply(to message: KafkaMessage) {
        let id = message.keyString ?? ""
        // The shape and size of a simulator's approval.
        let value = #"{"authorization_code":"042517","correlation_id":"\#(id)","status":"approved","transaction_id":"tx_bench"}"#
        let reply = KafkaRecord(
            topic: topics.reply, key: message.key, value: Array(value.utf8),
            headers: [KafkaHeader(name: "correlation-id", value: id), KafkaHeader(name: "content-type", value: "application/json")])
        let consumer = self.consumer
        try? producer.produce(reply) { outcome in
            if case .success = outcome { consumer.acknowledge(message) }
        }
    }
}
