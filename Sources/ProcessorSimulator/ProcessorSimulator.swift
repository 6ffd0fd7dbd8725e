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
///   journal, which a simulator reads whenever the group gives it partitions, before taking their
///   requests (see ``VerdictJournal``, ``JournalCatchUps``); before partitions go to another
///   simulator, what was started of them is finished and committed.
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
    private let catchUps: JournalCatchUps
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
        // Replies on the default topic are read by every serve replica from every partition, and
        // matched by key, never by partition: sticky partitioning packs those produced together
        // into one batch. The journal stays partitioned by key (it is compacted by key).
        // A verdict and a reply are produced while many other captures are in progress in
        // bursts of one loop (a fetched batch of requests, then their journal acknowledgements):
        // on the profile's lingering client they share one produce request instead of two. Half
        // the profile's linger: the burst is handed over within microseconds, but the bursts of
        // one fetch after another then share a produce request too (fewer batches stored, which
        // the local broker's fetches grow with; 1 ms against 0.2 ms measured with serve's 2 ms).
        // Neither the journal (one verdict per transaction) nor replies depend on the order of
        // two records handed over that close together.
        var lingeringClient = configuration.kafka.lingeringClient
        let lingeringStatistics = KafkaStatisticsMetrics(client: "producer-lingering")
        lingeringClient?.linger = .milliseconds(1)
        lingeringClient?.statisticsHandler = { lingeringStatistics.record($0) }
        producer = try KafkaProducer(
            configuration: configuration.kafka, stickyTopics: [configuration.topics.reply], lingeringClient: lingeringClient,
            logger: logger, statisticsHandler: { producerStatistics.record($0) })
        provisioner = TopicProvisioner(
            producer: producer,
            topics: configuration.topics.specifications(adding: [
                KafkaTopicSpecification(
                    name: configuration.verdictTopic, partitions: configuration.topics.requestPartitions, configs: ["cleanup.policy": "compact"])
            ]),
            createMissing: configuration.topics.createMissing, logger: logger)
        let journal = try VerdictJournal(topic: configuration.verdictTopic, kafka: configuration.kafka, producer: producer, logger: logger)
        self.journal = journal
        let catchUps = JournalCatchUps(journal: journal, logger: logger)
        self.catchUps = catchUps
        // Set once the pipeline exists, which needs the consumer; revocations come later.
        let pipelineReference = Mutex<RequestPipeline?>(nil)
        let finishTimeout = configuration.processingDelay + .seconds(3)
        let consumerStatistics = KafkaStatisticsMetrics(client: "request-consumer")
        consumer = try KafkaConsumer(
            configuration: configuration.kafka,
            subscription: .group(id: configuration.groupID, topics: [configuration.topics.request]),
            // A new group starts from the oldest request still in the topic: requests made while
            // no simulator ran are answered (or refused as expired), not skipped.
            componentSettings: ["auto.offset.reset": "earliest"],
            bufferCapacity: max(1, configuration.concurrency),
            rebalanceHooks: .init(
                assigned: { catchUps.partitionsAssigned($0) },
                revoking: { [logger] _ in
                    if pipelineReference.withLock({ $0 })?.finishInProgress(within: finishTimeout) == false {
                        logger.warning("requests still in progress at revocation; their next owner answers them again")
                    }
                }),
            logger: logger,
            statisticsHandler: { consumerStatistics.record($0) })
        pipeline = RequestPipeline(
            configuration: configuration, consumer: consumer, producer: producer, journal: journal,
            verdicts: verdicts ?? VerdictGenerator(approvalRate: configuration.approvalRate), metrics: metrics, logger: logger,
            wallClock: wallClock)
        pipelineReference.withLock { [pipeline] in $0 = pipeline }
    }

    /// Whether the simulator reaches the brokers, knows every earlier verdict and has joined its
    /// group, and if not, why.
    public var readiness: Readiness {
        if case .unreachable(let reason) = producer.connectivity.current { return .notReady(reason: "Kafka brokers unreachable: \(reason)") }
        if producer.connectivity.current == .unknown { return .notReady(reason: "not connected to Kafka yet") }
        if !provisioner.isReady { return .notReady(reason: "topics not confirmed on the brokers yet") }
        if !consumer.isPositioned { return .notReady(reason: "waiting for the consumer group to assign partitions") }
        if catchUps.isCatchingUp { return .notReady(reason: "loading the verdict journal") }
        return .ready
    }

    /// Requests being processed now.
    public var requestsInFlight: Int { pipeline.inProgress }

    public func run() async throws {
        await withDiscardingTaskGroup { background in
            background.addTask { await cancelWhenGracefulShutdown { await self.provisioner.run() } }
            background.addTask { [pipeline] in
                await self.journal.follow { verdict, transactionID in pipeline.learn(verdict, for: transactionID) }
            }
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
                // Partitions assigned since the last batch may be in this one: none of their
                // requests is processed before the journal is read up to their assignment.
                await catchUps.waitUntilCaughtUp()
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
