import CoreMetrics
import Instrumentation
import Kafka
import Logging
import Operations
import Payments
import PaymentsWire
import Synchronization
import Tracing

/// Carries captures over Kafka: the ``CorrelationRegistry`` of this replica, the producer its
/// requests go out through, and the consumer its answers come back through.
///
/// By default every replica reads every partition of the reply topic with a consumer that
/// assigns them itself (no consumer group), so each replica sees the replies to its own requests
/// whatever partition they land on, and ignores the others'. A shared group would split the
/// replies between replicas and leave waiters to time out. See ``ReplyRouting`` for the modes in
/// which a replica owns a partition or a topic instead.
///
/// In that default mode a second consumer reads the request topic, from the beginning, and the
/// reply consumer starts at the beginning too: every replica then knows every capture any replica
/// sent (and, from the replies, its verdict), so a retry on any replica waits for or replays the
/// first request's answer instead of sending another, and outcome lookups answer the same
/// everywhere. A replica is ready only once it has read what the topics held when it started
/// (``HistoryLoad``). The request records get a consumer of their own so that reading them never
/// delays a reply: a fetch of the request topic, whose partitions fill fastest, takes longer on
/// some brokers (the local one lists every stored batch of a partition per fetch).
public final class KafkaPaymentGateway: PaymentGateway {
    let configuration: GatewayConfiguration
    let producer: KafkaProducer
    let replyConsumer: KafkaConsumer
    /// Reads every request record, any replica's (default reply routing only).
    let requestObserver: KafkaConsumer?
    /// The reply consumer and the request observer, whose positions readiness checks. Built
    /// once: the transport checks readiness for every capture.
    private let consumers: [KafkaConsumer]
    public let registry: CorrelationRegistry
    let metrics: GatewayMetrics
    private let logger: Logger
    private let requestPartitions = RequestPartitions()
    /// Marks this process's request records, which its request observer then skips undecoded.
    private let senderID: String
    /// Keeps the request and reply topics in place across broker outages.
    private let provisioner: TopicProvisioner
    /// Set when graceful shutdown begins: new captures are refused while those in flight finish.
    private let draining = DrainingFlag()
    /// Whether what the topics held at start-up has been read.
    private let history: HistoryLoad

    public init(configuration: GatewayConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let senderID = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        self.senderID = senderID
        // A record that cannot be delivered within the capture timeout is of no use to its
        // waiter: let librdkafka give up on it at about the same time.
        let producerStatistics = KafkaStatisticsMetrics(client: "producer")
        // Requests are independent records (nothing depends on the order of two handed over
        // within a millisecond), so they can take the profile's lingering client, which the
        // transport uses when many captures are in progress.
        var lingeringClient = configuration.kafka.lingeringClient
        let lingeringStatistics = KafkaStatisticsMetrics(client: "producer-lingering")
        lingeringClient?.statisticsHandler = { lingeringStatistics.record($0) }
        producer = try KafkaProducer(
            configuration: configuration.kafka,
            componentSettings: ["message.timeout.ms": "\(max(1_000, configuration.captureTimeout.wholeMilliseconds))"],
            lingeringClient: lingeringClient,
            logger: logger,
            statisticsHandler: { producerStatistics.record($0) })
        let consumerStatistics = KafkaStatisticsMetrics(client: "reply-consumer")
        replyConsumer = try KafkaConsumer(
            configuration: configuration.kafka,
            subscription: configuration.replyRouting.subscription(sharedReplyTopic: configuration.topics.reply),
            // A partition whose offset the broker no longer has (a broker that lost its data, or
            // retention) restarts from its beginning: an extra reply is ignored, a missed one is
            // a capture that times out.
            componentSettings: ["auto.offset.reset": "earliest"],
            bufferCapacity: 10_000,
            logger: logger,
            statisticsHandler: { consumerStatistics.record($0) })
        if configuration.replyRouting.readsHistory {
            let observerStatistics = KafkaStatisticsMetrics(client: "request-observer")
            requestObserver = try KafkaConsumer(
                configuration: configuration.kafka,
                subscription: .allPartitions(of: [configuration.topics.request], from: .beginning),
                // Another replica's request must be known here before a client that lost that
                // replica retries here (measured: 80 ms at the earliest), but not within a
                // millisecond: a 50 ms fetch wait costs the broker about 20 fetches a second
                // when idle, where the latency profile's 5 ms would cost 200 (every fetch of the
                // request topic costs the broker as much as the processor's).
                componentSettings: ["auto.offset.reset": "earliest", "fetch.wait.max.ms": "50"],
                bufferCapacity: 10_000,
                // This replica's own requests are known here already: the consumer passes them
                // over without copying them out (copying and then skipping them took 17 of a
                // capture's 180 heap allocations).
                skipping: KafkaHeader(name: PaymentHeaders.senderID, value: senderID),
                logger: logger,
                statisticsHandler: { observerStatistics.record($0) })
        } else {
            requestObserver = nil
        }
        let consumers = [replyConsumer, requestObserver].compactMap { $0 }
        self.consumers = consumers
        var ownTopic: [KafkaTopicSpecification] = []
        if case .ownedTopic(let topic) = configuration.replyRouting {
            ownTopic.append(KafkaTopicSpecification(name: topic, partitions: 1))
        }
        provisioner = TopicProvisioner(
            producer: producer, topics: configuration.topics.specifications(adding: ownTopic),
            createMissing: configuration.topics.createMissing, logger: logger)
        metrics = GatewayMetrics()
        history = HistoryLoad(needed: configuration.replyRouting.readsHistory)
        let transport = KafkaCaptureTransport(
            producer: producer, requestTopic: configuration.topics.request,
            replyTo: configuration.replyRouting.replyDestination(sharedReplyTopic: configuration.topics.reply),
            requestPartitions: requestPartitions, senderID: requestObserver == nil ? nil : senderID, admission: { [draining, producer, provisioner, consumers, history] in
                if draining.isSet { return .shuttingDown(nil) }
                if case .notReady(let reason) = Self.readiness(producer: producer, provisioner: provisioner, consumers: consumers, history: history) {
                    return .unavailable(reason: reason)
                }
                return nil
            }, produceFailures: metrics.produceFailures, tracer: InstrumentationSystem.tracer, logger: logger)
        registry = CorrelationRegistry(configuration: configuration.registry, transport: transport)
    }

    public var readiness: Readiness {
        if draining.isSet { return .notReady(reason: "shutting down") }
        return Self.readiness(producer: producer, provisioner: provisioner, consumers: consumers, history: history)
    }

    private static func readiness(
        producer: KafkaProducer, provisioner: TopicProvisioner, consumers: [KafkaConsumer], history: HistoryLoad
    ) -> Readiness {
        switch producer.connectivity.current {
        case .unreachable(let reason): return .notReady(reason: "Kafka brokers unreachable: \(reason)")
        case .unknown: return .notReady(reason: "not connected to Kafka yet")
        case .reachable: break
        }
        if !provisioner.isReady {
            return .notReady(reason: "topics not confirmed on the brokers yet")
        }
        if consumers.contains(where: { !$0.isPositioned }) {
            return .notReady(reason: "reply consumer not positioned yet")
        }
        if !history.isLoaded {
            return .notReady(reason: "reading the captures already in the request and reply topics")
        }
        return .ready
    }

    /// Refuses new captures from now on (graceful shutdown); those in flight go on.
    public func beginDraining() {
        draining.set()
    }

    /// Captures waiting for their reply now.
    public var pendingCaptures: Int { registry.pendingCount }

    /// Reads replies and hands them to the registry, a batch at a time, until the reply consumer
    /// is closed.
    func deliverReplies() async {
        for await batch in replyConsumer.batches() {
            var replies: [CaptureReply] = []
            replies.reserveCapacity(batch.count)
            // Only when spans are exported: a span for each reply of this replica's captures, the
            // child of the simulator's reply span (named in the record's headers), the last of
            // the capture's trace. Other replicas' replies (and history) get none.
            var messages: [KafkaMessage] = []
            let tracing = TraceExport.isOn
            let started = DefaultTracerClock.now
            for message in batch {
                guard let reply = reply(from: message) else { continue }
                replies.append(reply)
                if tracing { messages.append(message) }
            }
            let deliveries = await registry.deliver(replies)
            for (reply, delivery) in zip(replies, deliveries) {
                record(delivery, of: reply)
            }
            for (message, delivery) in zip(messages, deliveries) where delivery != .unmatched {
                Self.recordDelivery(of: message, delivery, startedAt: started)
            }
            if let summary = history.record(batch, requests: 0, replies: replies.count) {
                logLoaded(summary)
            }
        }
    }

    /// Reads request records (every replica's) and hands them to the registry, a batch at a
    /// time, until the observer is closed. Returns at once for a replica that reads none.
    func observeRequests() async {
        guard let requestObserver else { return }
        for await batch in requestObserver.batches() {
            // The consumer has passed over this replica's own requests (`skipping`).
            let requests = batch.compactMap(ObservedRequest.init)
            if !requests.isEmpty { await registry.deliver([], observing: requests) }
            if let summary = history.record(batch, requests: requests.count, replies: 0) {
                logLoaded(summary)
            }
        }
    }

    /// Learns where the request and reply topics ended when the consumer was positioned, so that
    /// the replica is ready once it has read that far. Returns at once for a replica that reads
    /// no history.
    func loadHistory() async {
        guard !history.isLoaded else { return }
        while !Task.isCancelled {
            await replyConsumer.waitUntilPositioned()
            await requestObserver?.waitUntilPositioned()
            do {
                var targets: [KafkaTopicPartition: Int64] = [:]
                for topic in [configuration.topics.reply, configuration.topics.request] {
                    guard let count = try await producer.admin.partitionCount(of: topic) else { throw KafkaError.unknownTopic(topic) }
                    for index in 0..<Int32(count) {
                        let partition = KafkaTopicPartition(topic: topic, partition: index)
                        let marks = try await producer.admin.watermarks(of: partition)
                        if marks.high > marks.low { targets[partition] = marks.high - 1 }
                    }
                }
                if let summary = history.setTargets(targets) { logLoaded(summary) }
                return
            } catch {
                logger.info("could not read where the topics end yet; retrying", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    private func logLoaded(_ summary: HistoryLoad.Summary) {
        logger.info(
            "captures already in Kafka loaded; taking captures",
            metadata: [
                "duration_ms": "\(summary.duration.wholeMilliseconds)", "requests_read": "\(summary.requests)",
                "replies_read": "\(summary.replies)", "captures_remembered": "\(registry.rememberedCount)",
                "captures_pending": "\(registry.pendingCount)",
            ])
    }

    private static func recordDelivery(of message: KafkaMessage, _ delivery: ReplyDelivery, startedAt started: DefaultTracerClock.Instant) {
        var parent = InstrumentationContext.topLevel
        InstrumentationSystem.instrument.extract(message.headers, into: &parent, using: KafkaHeadersExtractor())
        let span = startSpan("deliver capture reply", context: parent, ofKind: .consumer, at: started)
        span.attributes["messaging.system"] = "kafka"
        span.attributes["messaging.destination.name"] = message.topic
        span.attributes["messaging.kafka.destination.partition"] = Int(message.partition)
        span.attributes["messaging.kafka.message.offset"] = Int(message.offset)
        span.attributes["capture.reply.delivery"] = delivery == .delivered ? "delivered" : "late"
        span.end()
    }

    private func reply(from message: KafkaMessage) -> CaptureReply? {
        // A read barrier's marker (placed by a tool that reads the topic to its end) is no reply.
        if KafkaReadBarrier.isMarker(message) { return nil }
        guard let correlationID = PaymentReplyMessage.correlationID(of: message) else {
            metrics.unparseableReplies.increment()
            logger.warning(
                "reply without a correlation id; dropped",
                metadata: ["kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)"])
            return nil
        }
        do {
            return .response(try PaymentReplyMessage.decode(message, correlationID: correlationID))
        } catch {
            metrics.unparseableReplies.increment()
            logger.warning("unparseable reply; failing its waiter", metadata: ["correlation_id": "\(correlationID)", "error": "\(error)"])
            return .unreadable(correlationID, reason: "the processor's reply could not be read: \(error)")
        }
    }

    private func record(_ delivery: ReplyDelivery, of reply: CaptureReply) {
        switch delivery {
        case .delivered:
            break
        case .late:
            // While the history loads, every old reply is "late": nothing to tell or count.
            guard history.isLoaded else { return }
            metrics.lateReplies.increment()
            if case .response(let response) = reply {
                logger.info(
                    "late reply kept: its capture had already ended",
                    metadata: ["correlation_id": "\(response.correlationID)", "transaction_id": "\(response.transactionID)", "status": "\(response.status)"])
            }
        case .unmatched:
            // Normal with several replicas reading every reply: it is another replica's.
            metrics.unmatchedReplies.increment()
        }
    }

    /// Keeps the topics in place and learns how many partitions the request topic has, after
    /// start-up and after every broker outage. Runs until cancelled.
    func provisionTopics() async {
        await provisioner.run { [self] in
            guard let count = try await producer.admin.partitionCount(of: configuration.topics.request) else {
                throw KafkaError.unknownTopic(configuration.topics.request)
            }
            requestPartitions.update(count)
        }
    }

    /// Asks the brokers for the request topic's partition count every `interval`, so that
    /// partitions added while the replica runs get requests too. Runs until cancelled.
    func refreshRequestPartitions(every interval: Duration = .seconds(10)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            if let count = try? await producer.admin.partitionCount(of: configuration.topics.request), count != requestPartitions.count {
                logger.info("request topic partition count changed", metadata: ["from": "\(requestPartitions.count)", "to": "\(count)"])
                requestPartitions.update(count)
            }
        }
    }

    /// Brings the gauges that are read rather than pushed up to date (called before each scrape).
    public func recordGauges() {
        metrics.pending.record(registry.pendingCount)
    }

    /// Ends every capture still waiting (they answer 503), then closes the consumer and
    /// flushes and closes the producer.
    func shutdown() async {
        await registry.shutdown()
        await replyConsumer.close()
        await requestObserver?.close()
        await producer.close()
    }
}

/// Whether graceful shutdown has begun, shared with the transport's admission check.
private final class DrainingFlag: Sendable {
    private let value = Atomic(false)

    var isSet: Bool { value.load(ordering: .relaxed) }

    func set() {
        value.store(true, ordering: .relaxed)
    }
}
