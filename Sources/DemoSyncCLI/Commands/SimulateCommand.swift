import Kafka
import Logging
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
                "group-id", "ID", environment: ["DEMOSYNC_SIMULATOR_GROUP"], default: "demosync-simulator",
                help: "Consumer group shared by the simulators."),
        ] + KafkaOptions.specifications + LoggingOptions.specifications)

    static func run(_ options: ParsedOptions) async throws -> Int32 {
        let topics = try KafkaOptions.topics(from: options)
        let groupID = options.string("group-id", default: "demosync-simulator")
        guard !groupID.isEmpty else { throw UsageError("--group-id must not be empty", command: "simulate") }
        let configuration = SimulatorConfiguration(
            kafka: try KafkaOptions.configuration(from: options, clientID: "demosync-simulate"),
            requestTopic: topics.request,
            replyTopic: topics.reply,
            groupID: groupID,
            processingDelay: try options.duration("delay", default: .milliseconds(2000)),
            approvalRate: try options.fraction("approval-rate", default: 0.8),
            concurrency: try options.integer("concurrency", default: 1_000, in: 1...1_000_000),
            createTopics: try KafkaOptions.createTopics(from: options),
            topicPartitions: try KafkaOptions.partitions(from: options))
        let logger = try LoggingOptions.makeLogger("demosync.simulate", from: options)

        let simulator = try ProcessorSimulator(configuration: configuration, logger: logger)
        logger.info(
            "starting",
            metadata: [
                "librdkafka": "\(LibrdkafkaVersion.runningDescription)", "kafka.bootstrap": "\(configuration.kafka.bootstrapServers)",
                "delay": "\(configuration.processingDelay)", "approval_rate": "\(configuration.approvalRate)",
                "concurrency": "\(configuration.concurrency)",
            ])
        let group = ServiceGroup(
            configuration: .init(services: [simulator], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        return ExitCode.success
    }
}
