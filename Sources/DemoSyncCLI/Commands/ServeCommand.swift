import Kafka
import Logging
import PaymentsAPI

/// `demosync serve`: the HTTP API.
enum ServeCommand {
    static let specification = CommandSpecification(
        name: "serve",
        summary: """
            Runs the payments API: POST /api/v1/payments/capture produces the request to Kafka, waits for the \
            correlated reply and answers 200 with the processor's verdict, 504 when the wait times out, 503 when \
            the request cannot be sent. Stops gracefully on SIGTERM or SIGINT.
            """,
        options: [
            .value("host", "ADDRESS", environment: ["DEMOSYNC_HTTP_HOST"], default: "0.0.0.0", help: "Address to listen on."),
            .value("port", "PORT", environment: ["DEMOSYNC_HTTP_PORT", "PORT"], default: "8080", help: "Port to listen on (0 picks a free one)."),
            .value(
                "timeout", "DURATION", environment: ["DEMOSYNC_CAPTURE_TIMEOUT_MS"], default: "30000 (ms)",
                help: "How long a capture waits for the processor before answering 504: milliseconds, or 500ms, 30s, 1m."),
            .value(
                "max-pending", "N", environment: ["DEMOSYNC_MAX_PENDING"], default: "50000",
                help: "Captures allowed to wait at once; beyond it, 503 with Retry-After."),
            .value(
                "max-body-bytes", "BYTES", environment: ["DEMOSYNC_MAX_BODY_BYTES"], default: "65536",
                help: "Largest request body accepted; larger ones get 413."),
        ] + KafkaOptions.specifications + LoggingOptions.specifications)

    static func run(_ options: ParsedOptions) async throws -> Int32 {
        let topics = try KafkaOptions.topics(from: options)
        let gatewayConfiguration = GatewayConfiguration(
            kafka: try KafkaOptions.configuration(from: options, clientID: "demosync-serve"),
            requestTopic: topics.request,
            replyTopic: topics.reply,
            captureTimeout: try options.duration("timeout", default: .seconds(30), allowZero: false),
            createTopics: try KafkaOptions.createTopics(from: options),
            topicPartitions: try KafkaOptions.partitions(from: options),
            maxPendingCaptures: try options.integer("max-pending", default: 50_000, in: 1...10_000_000))
        let server = ServerConfiguration(
            host: options.string("host", default: "0.0.0.0"),
            port: try options.integer("port", default: 8080, in: 0...65_535),
            limits: HTTPLimits(maxBodyBytes: try options.integer("max-body-bytes", default: 64 * 1024, in: 256...(16 * 1024 * 1024))))
        let logger = try LoggingOptions.makeLogger("demosync.serve", from: options)

        let gateway = try KafkaPaymentGateway(configuration: gatewayConfiguration, logger: logger)
        logger.info(
            "starting",
            metadata: [
                "librdkafka": "\(LibrdkafkaVersion.runningDescription)", "kafka.bootstrap": "\(gatewayConfiguration.kafka.bootstrapServers)",
                "topics": "\(topics.request) → \(topics.reply)", "timeout": "\(gatewayConfiguration.captureTimeout)",
            ])
        try await PaymentsServer.run(server: server, gateway: gateway, logger: logger) { port in
            logger.notice("listening", metadata: ["http.host": "\(server.host)", "http.port": "\(port)"])
        }
        return ExitCode.success
    }
}
