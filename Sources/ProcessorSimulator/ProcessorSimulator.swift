import CoreMetrics
import Instrumentation
import Kafka
import Logging
import Operations
import Payments
import ServiceLifecycle
import Synchronization
import Tracing

/// Stands in for the card network: consumes capture requests in a consumer group, waits the
/// processing delay, and answers each on the reply topic (or the one its headers name), keyed
/// and headed with its correlation id.
///
/// - Many requests are processed at once, up to ``SimulatorConfiguration/concurrency``; beyond
///   that the consumer pauses, so a backlog costs no memory.
/// - A request's offset is committed only after its reply is acknowledged by the broker, so a
///   crash means re-processing, never a request without an answer.
/// - A request whose deadline has passed is not processed: it is answered `expired`.
/// - A repeated transaction id gets its original verdict (see ``VerdictLedger``).
/// - A malformed request is logged, counted and skipped.
public final class ProcessorSimulator: Service {
    private let configuration: SimulatorConfiguration
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let verdicts: VerdictGenerator
    private let ledger: VerdictLedger
    private let journal: VerdictJournal
    private let metrics = SimulatorMetrics()
    private let logger: Logger
    private let inFlight = Atomic(0)
    private let journalCaughtUp = Atomic(false)
    private let provisioner: TopicProvisioner
    private let now: @Sendable () -> Int64

    /// - Parameters:
    ///   - verdicts: how approvals are decided (a seeded generator in tests).
    ///   - now: wall-clock milliseconds, compared with request deadlines.
    public init(
        configuration: SimulatorConfiguration, verdicts: VerdictGenerator? = nil, now: @escaping @Sendable () -> Int64 = WallClock.nowMilliseconds,
        logger: Logger
    ) throws {
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.verdicts = verdicts ?? VerdictGenerator(approvalRate: configuration.approvalRate)
        let producerStatistics = KafkaStatisticsMetrics(client: "producer")
        producer = try KafkaProducer(configuration: configuration.kafka, logger: logger, statisticsHandler: { producerStatistics.record($0) })
        provisioner = TopicProvisioner(
            producer: producer,
            topics: configuration.topics.specifications(adding: [
                KafkaTopicSpecification(
                    name: configuration.verdictTopic, partitions: configuration.topics.partitions, configs: ["cleanup.policy": "compact"])
            ]),
            createMissing: configuration.topics.createMissing, logger: logger)
        ledger = VerdictLedger(capacity: configuration.verdictCapacity)
        journal = try VerdictJournal(
            topic: configuration.verdictTopic, kafka: configuration.kafka, producer: producer, ledger: ledger, logger: logger)
        let consumerStatistics = KafkaStatisticsMetrics(client: "request-consumer")
        consumer = try KafkaConsumer(
            configuration: configuration.kafka,
            subscription: .group(id: configuration.groupID, topics: [configuration.topics.request]),
            // A new group starts from the oldest request still in the topic: requests made while
            // no simulator ran are answered (or refused as expired), not skipped.
            componentSettings: ["auto.offset.reset": "earliest"],
            bufferCapacity: max(1, configuration.concurrency),
            logger: logger,
            statisticsHandler: { consumerStatistics.record($0) })
    }

    /// Whether the simulator reaches the brokers, knows every earlier verdict and has joined its
    /// group, and if not, why.
    public var readiness: Readiness {
        if case .unreachable(let reason) = producer.connectivity.current { return .notReady(reason: "Kafka brokers unreachable: \(reason)") }
        if producer.connectivity.current == .unknown { return .notReady(reason: "not connected to Kafka yet") }
        if !provisioner.isReady { return .notReady(reason: "topics not confirmed on the brokers yet") }
        if !journalCaughtUp.load(ordering: .relaxed) { return .notReady(reason: "loading the verdict journal") }
        if !consumer.isPositioned { return .notReady(reason: "waiting for the consumer group to assign partitions") }
        return .ready
    }

    /// Requests being processed now.
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    public func run() async throws {
        await withDiscardingTaskGroup { background in
            background.addTask { await cancelWhenGracefulShutdown { await self.provisioner.run() } }
            let caughtUp = AsyncStream<Void>.makeStream()
            background.addTask {
                await self.journal.follow { caughtUp.continuation.finish() }
            }
            // Take no request before every earlier verdict is known.
            for await _ in caughtUp.stream {}
            journalCaughtUp.store(true, ordering: .relaxed)
            logger.info("verdict journal loaded; taking requests")
            await processRequests()
            await journal.close()
        }
        await consumer.close()
        await producer.close()
        logger.info("simulator stopped")
    }

    /// Processes requests until graceful shutdown, then finishes every request already started:
    /// its reply is produced and its offset committed before the consumer closes.
    private func processRequests() async {
        let slots = ConcurrencyLimit(configuration.concurrency)
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                for await message in consumer.messages {
                    await slots.acquire()
                    inFlight.add(1, ordering: .relaxed)
                    metrics.inFlight.record(inFlight.load(ordering: .relaxed))
                    group.addTask {
                        if await self.process(message) {
                            self.consumer.acknowledge(message)
                        }
                        self.inFlight.subtract(1, ordering: .relaxed)
                        slots.release()
                    }
                }
            } onGracefulShutdown: { [consumer] in
                consumer.stopDelivering()
            }
        }
    }

    /// Answers one request. Returns `true` once its reply is acknowledged (or it is skipped as
    /// malformed), meaning its offset may be committed.
    private func process(_ message: KafkaMessage) async -> Bool {
        // Continue the requester's trace: this span is a child of the span that produced the
        // request, and the reply carries this span on.
        var parent = InstrumentationContext.topLevel
        InstrumentationSystem.instrument.extract(message.headers, into: &parent, using: KafkaHeadersExtractor())
        return await withSpan("process capture request", context: parent, ofKind: .consumer) { span in
            await self.process(message, span: span)
        }
    }

    private func process(_ message: KafkaMessage, span: any Span) async -> Bool {
        let request: ReceivedPaymentRequest
        do {
            request = try ReceivedPaymentRequest(message)
        } catch {
            metrics.malformed.increment()
            logger.warning(
                "malformed request skipped",
                metadata: ["kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)", "error": "\(error)"])
            return true
        }
        let response: CaptureResponse
        var decidedNow = false
        if let earlier = ledger.verdict(for: request.transactionID) {
            metrics.repeated.increment()
            response = earlier.response(correlationID: request.correlationID, transactionID: request.transactionID)
        } else if let deadline = request.deadlineMilliseconds, now() >= deadline {
            // Its requester has stopped waiting: processing it now would capture a payment whose
            // client was told "unknown". Say it was not processed instead.
            metrics.expired.increment()
            response = .expired(correlationID: request.correlationID, transactionID: request.transactionID)
        } else {
            let verdict = await ledger.decideOnce(for: request.transactionID) {
                await self.decide(request)
            }
            guard let verdict else { return false }
            decidedNow = true
            response = verdict.response(correlationID: request.correlationID, transactionID: request.transactionID)
        }
        span.attributes["capture.status"] = response.status.text
        guard await reply(response, to: request.replyTo, idempotencyKey: request.idempotencyKey, trace: span.context) else { return false }
        if decidedNow { metrics.answered.increment() }
        logger.debug(
            "request answered",
            metadata: [
                "correlation_id": "\(request.correlationID)", "transaction_id": "\(request.transactionID)", "status": "\(response.status)",
            ])
        return true
    }

    /// Processes a new transaction: waits the processing delay, decides, and journals the
    /// verdict. Returns `nil` if the verdict could not be journaled before shutdown.
    private func decide(_ request: ReceivedPaymentRequest) async -> Verdict? {
        if configuration.processingDelay > .zero {
            // Not cancelled on shutdown: a started request is finished.
            try? await Task.sleep(for: configuration.processingDelay)
        }
        let verdict = Verdict(verdicts.verdict(correlationID: request.correlationID, transactionID: request.transactionID))
        let journaled = await retryingUntilAcknowledged("journal verdict", correlationID: request.correlationID) {
            try await self.journal.record(verdict, for: request.transactionID)
        }
        return journaled ? verdict : nil
    }

    /// Produces the reply where the request asked, falling back to the default reply topic when
    /// that destination does not exist.
    private func reply(
        _ response: CaptureResponse, to requested: ReplyDestination?, idempotencyKey: String?, trace: InstrumentationContext
    ) async -> Bool {
        let fallback = ReplyDestination(topic: configuration.topics.reply)
        var destination = requested ?? fallback
        return await retryingUntilAcknowledged("reply", correlationID: response.correlationID) {
            do {
                var record = try PaymentReplyMessage.record(response, to: destination, idempotencyKey: idempotencyKey)
                InstrumentationSystem.instrument.inject(trace, into: &record.headers, using: KafkaHeadersInjector())
                try await self.producer.send(record)
            } catch let error as KafkaError where destination != fallback && error.isUnknownDestination {
                self.logger.warning(
                    "requested reply destination does not exist; replying on the default topic",
                    metadata: ["reply_to": "\(destination)", "correlation_id": "\(response.correlationID)"])
                destination = fallback
                throw error
            }
        }
    }

    /// Retries `send` until the broker acknowledges it: a request must not be committed before
    /// its verdict and reply are durable. During shutdown it gives up after a few attempts and
    /// returns `false`, leaving the request uncommitted for the next simulator.
    private func retryingUntilAcknowledged(
        _ what: String, correlationID: CorrelationID, _ send: () async throws -> Void
    ) async -> Bool {
        var delay = Duration.milliseconds(100)
        var attempts = 0
        while true {
            do {
                try await send()
                return true
            } catch {
                attempts += 1
                metrics.replyFailures.increment()
                if Task.isShuttingDownGracefully, attempts >= 3 { return false }
                logger.warning("\(what) not acknowledged; retrying", metadata: ["correlation_id": "\(correlationID)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

}

extension ProcessorSimulator {
    /// Brings the gauges that are read rather than pushed up to date (called before each scrape).
    public func recordGauges() {
        metrics.inFlight.record(requestsInFlight)
    }
}
