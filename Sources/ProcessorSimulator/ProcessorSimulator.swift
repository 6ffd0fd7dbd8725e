import CoreMetrics
import Kafka
import Logging
import Operations
import Payments
import PaymentsWire
import ServiceLifecycle
import Synchronization

/// Stands in for the card network: consumes capture requests in a consumer group, waits the
/// processing delay, and answers each on the reply topic (or the one its headers name), keyed
/// and headed with its correlation id.
///
/// - Many requests are processed at once, up to ``SimulatorConfiguration/concurrency``; beyond
///   that the consumer pauses, so a backlog costs no memory.
/// - A request's offset is committed only after its reply is acknowledged by the broker, so a
///   crash means re-processing, never a request without an answer.
/// - A request whose deadline has passed is not processed: it is answered `expired`.
/// - A repeated transaction id gets its original verdict, from memory or from the verdict
///   journal, which every simulator reads (see ``VerdictJournal``).
/// - A malformed request is logged, counted and skipped.
///
/// The work per request is in ``RequestPipeline``.
public final class ProcessorSimulator: Service {
    private let configuration: SimulatorConfiguration
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let journal: VerdictJournal
    private let pipeline: RequestPipeline
    private let metrics = SimulatorMetrics()
    private let logger: Logger
    private let journalCaughtUp = Atomic(false)
    private let provisioner: TopicProvisioner

    /// - Parameters:
    ///   - verdicts: how approvals are decided (a seeded generator in tests).
    ///   - wallClock: milliseconds since the epoch, compared with request deadlines.
    public init(
        configuration: SimulatorConfiguration, verdicts: VerdictGenerator? = nil,
        wallClock: @escaping @Sendable () -> Int64 = WallClock.nowMilliseconds, logger: Logger
    ) throws {
        self.configuration = configuration
        self.logger = logger
        let producerStatistics = KafkaStatisticsMetrics(client: "producer")
        producer = try KafkaProducer(configuration: configuration.kafka, logger: logger, statisticsHandler: { producerStatistics.record($0) })
        provisioner = TopicProvisioner(
            producer: producer,
            topics: configuration.topics.specifications(adding: [
                KafkaTopicSpecification(
                    name: configuration.verdictTopic, partitions: configuration.topics.partitions, configs: ["cleanup.policy": "compact"])
            ]),
            createMissing: configuration.topics.createMissing, logger: logger)
        journal = try VerdictJournal(topic: configuration.verdictTopic, kafka: configuration.kafka, producer: producer, logger: logger)
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
        pipeline = RequestPipeline(
            configuration: configuration, consumer: consumer, producer: producer, journal: journal,
            verdicts: verdicts ?? VerdictGenerator(approvalRate: configuration.approvalRate), metrics: metrics, logger: logger,
            wallClock: wallClock)
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
    public var requestsInFlight: Int { pipeline.inProgress }

    public func run() async throws {
        await withDiscardingTaskGroup { background in
            background.addTask { await cancelWhenGracefulShutdown { await self.provisioner.run() } }
            let caughtUp = AsyncStream<Void>.makeStream()
            let loadStarted = ContinuousClock.now
            let learned = Atomic(0)
            background.addTask { [pipeline] in
                await self.journal.follow(
                    learn: { verdict, transactionID in
                        learned.add(1, ordering: .relaxed)
                        pipeline.learn(verdict, for: transactionID)
                    },
                    caughtUp: { caughtUp.continuation.finish() })
            }
            // Take no request before every earlier verdict is known.
            for await _ in caughtUp.stream {}
            journalCaughtUp.store(true, ordering: .relaxed)
            logger.info(
                "verdict journal loaded; taking requests",
                metadata: ["verdicts": "\(learned.load(ordering: .relaxed))", "duration_ms": "\(loadStarted.duration(to: .now).wholeMilliseconds)"])
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
        await withGracefulShutdownHandler {
            var batches = consumer.batches().makeAsyncIterator()
            while true {
                let room = await pipeline.admit()
                guard let batch = await batches.next(maximumCount: room) else { break }
                pipeline.start(batch)
            }
        } onGracefulShutdown: { [consumer] in
            consumer.stopDelivering()
        }
        await pipeline.drain()
    }
}

extension ProcessorSimulator {
    /// Brings the gauges that are read rather than pushed up to date (called before each scrape).
    public func recordGauges() {
        metrics.inFlight.record(requestsInFlight)
    }
}
