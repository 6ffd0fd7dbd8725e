import Kafka
import Logging
import Operations
import PaymentsWire
import ProcessorSimulator
import ServiceLifecycle
import UnixSignals

/// `demosync simulate`: the processor simulator.
enum SimulateCommand {
    static let specification = CommandSpecification(
        name: "simulate",
        summary: """
            Runs the processor simulator: consumes capture requests in a consumer group, waits the processing delay, \
            and answers each on the response topic (approved with a six-digit authorization code, or declined with \
            payment_declined). Stops gracefully on SIGTERM or SIGINT, finishing what it started.
            """,
        options: [
            .value(
                "delay", "DURATION", environment: ["PROCESSING_DELAY_MS"], default: "2000 (ms)",
                help: "Processing time per request: milliseconds, or 500ms, 2s."),
            .value(
                "approval-rate", "FRACTION", environment: ["DEMOSYNC_APPROVAL_RATE"], default: "0.8",
                help: "Share of requests approved: 0 to 1, or a percentage such as 80%."),
            .value(
                "concurrency", "N", environment: ["DEMOSYNC_SIMULATOR_CONCURRENCY"], default: "1000",
                help: "Requests processed at once; the consumer pauses beyond it."),
            .value(
                "health-port", "PORT|off", environment: ["DEMOSYNC_SIMULATOR_HEALTH_PORT"], default: "8081",
                help: "Port of the simulator's /health/live, /health/ready and /metrics (0 picks a free one, off disables)."),
            .value("health-host", "ADDRESS", environment: ["DEMOSYNC_SIMULATOR_HEALTH_HOST"], default: "0.0.0.0", help: "Address of those endpoints."),
            .value(
                "verdict-topic", "TOPIC", environment: ["DEMOSYNC_VERDICT_TOPIC"], default: "payment-verdicts",
                help: "Compacted topic where verdicts are journaled by transaction id, shared by the simulators."),
            .value(
                "verdict-memory", "N", environment: ["DEMOSYNC_VERDICT_MEMORY"], default: "100000",
                help: "Verdicts kept in memory (about 600 bytes each); older ones are forgotten here but stay in the journal topic."),
            .value(
                "group-id", "ID", environment: ["DEMOSYNC_SIMULATOR_GROUP"], default: "demosync-simulator",
                help: "Consumer group shared by the simulators."),
        ] + KafkaOptions.specifications + LoggingOptions.specifications)

    static func run(_ options: ParsedOptions) async throws -> Int32 {
        let kafka = try KafkaOptions.configuration(from: options, clientID: "demosync-simulate")
        let topics = try KafkaOptions.topics(from: options, profile: kafka.profile)
        let groupID = options.string("group-id", default: "demosync-simulator")
        guard !groupID.isEmpty else { throw UsageError("--group-id must not be empty", command: "simulate") }
        let configuration = SimulatorConfiguration(
            kafka: kafka,
            topics: topics,
            groupID: groupID,
            processingDelay: try options.duration("delay", default: .milliseconds(2000)),
            approvalRate: try options.fraction("approval-rate", default: 0.8),
            concurrency: try options.integer("concurrency", default: 1_000, in: 1...1_000_000),
            verdictTopic: try KafkaOptions.topicName(options.string("verdict-topic", default: "payment-verdicts"), command: "simulate"),
            verdictCapacity: try options.integer("verdict-memory", default: 100_000, in: 1...100_000_000))
        let healthPort: Int? = options.string("health-port") == "off" ? nil : try options.integer("health-port", default: 8081, in: 0...65_535)
        let (logger, metrics, traceExport) = try LoggingOptions.bootstrap("demosync.simulate", serviceName: "demosync-simulate", from: options)

        let simulator = try ProcessorSimulator(configuration: configuration, logger: logger)
        metrics.refreshBeforeRendering { simulator.recordGauges() }
        // The trace exporter is listed first so that it stops last, after the simulator's final spans.
        var services: [any Service] = (traceExport.map { [$0] } ?? []) + [simulator]
        if let healthPort {
            let routes = OperationsRoutes(readiness: { simulator.readiness }, metrics: metrics)
            services.append(OperationsServer(host: options.string("health-host", default: "0.0.0.0"), port: healthPort, routes: routes, logger: logger))
        }
        DemoSyncVersion.recordBuildInfo()
        logger.info(
            "starting",
            metadata: [
                "version": "\(DemoSyncVersion.current)", "librdkafka": "\(LibrdkafkaVersion.runningDescription)", "kafka.bootstrap": "\(configuration.kafka.bootstrapServers)",
                "kafka.profile": "\(configuration.kafka.profile.rawValue)",
                // The layout a missing topic is created with; the journal is keyed like the requests.
                "topics.partitions_when_created": "\(topics.requestPartitions) → \(topics.replyPartitions), journal \(topics.requestPartitions)",
                "delay": "\(configuration.processingDelay)", "approval_rate": "\(configuration.approvalRate)",
                "concurrency": "\(configuration.concurrency)",
            ])
        // The health server is listed last so that it stops first: readiness goes away before
        // the simulator stops taking requests.
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        return ExitCode.success
    }
}
