import Kafka
import Operations
import Logging
import Payments
import PaymentsAPI
import PaymentsWire

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
            .value(
                "max-header-bytes", "BYTES", environment: ["DEMOSYNC_MAX_HEADER_BYTES"], default: "16384",
                help: "Largest request header section accepted; larger ones close the connection with 400."),
            .value(
                "header-timeout", "DURATION", environment: ["DEMOSYNC_HEADER_TIMEOUT"], default: "60s",
                help: "A request head not complete this long after the connection (or its first byte) closes the connection."),
            .value(
                "body-timeout", "DURATION", environment: ["DEMOSYNC_BODY_TIMEOUT"], default: "60s",
                help: "A request body that sends nothing for this long closes the connection."),
            .value(
                "idle-timeout", "DURATION", environment: ["DEMOSYNC_IDLE_TIMEOUT"], default: "75s",
                help: "A keep-alive connection idle this long after its last response is closed. Waiting captures are never cut."),
            .value(
                "max-connections", "N", environment: ["DEMOSYNC_MAX_CONNECTIONS"],
                help: "Connections open at once; beyond it a new one gets 503 and is closed. Default: the descriptor limit less 256."),
            .value(
                "tls-certificate", "PEM", environment: ["DEMOSYNC_TLS_CERTIFICATE"],
                help: "Serve HTTPS with this certificate (chain, PEM); needs --tls-key. Read at start-up: restart to rotate."),
            .value("tls-key", "PEM", environment: ["DEMOSYNC_TLS_KEY"], help: "The private key (PEM) of --tls-certificate."),
            .value(
                "auth-token", "TOKEN", environment: ["DEMOSYNC_AUTH_TOKENS"], repeatable: true,
                help: "A bearer token the API accepts on /api/ (health and metrics stay open); in the environment, separate tokens with `;`. No token: no authentication."),
            .value(
                "auth-tokens-file", "PATH", environment: ["DEMOSYNC_AUTH_TOKENS_FILE"],
                help: "A file of accepted bearer tokens, one per line (# starts a comment). Keeps tokens off the command line."),
            .value(
                "reply-routing", "all|partition=N|topic=NAME", environment: ["DEMOSYNC_REPLY_ROUTING"], default: "all",
                help: """
                    How this replica gets its replies: `all` reads every partition of the response topic (works with any \
                    processor); `partition=N` owns partition N of it, `topic=NAME` owns a topic of its own (requests name \
                    them in reply-topic/reply-partition headers, which the processor must honour).
                    """),
            .value(
                "idempotency-retention", "DURATION", environment: ["DEMOSYNC_IDEMPOTENCY_RETENTION"], default: "24h",
                help: "How long a completed capture is replayed for a repeated Idempotency-Key or transaction id."),
            .value(
                "idempotency-capacity", "N", environment: ["DEMOSYNC_IDEMPOTENCY_CAPACITY"], default: "100000",
                help: "Most idempotency keys remembered; the oldest are forgotten first."),
            .value(
                "outcome-retention", "DURATION", environment: ["DEMOSYNC_OUTCOME_RETENTION"], default: "24h",
                help: "How long processor answers (late ones included) are kept for GET /api/v1/payments/{id}."),
            .value(
                "max-status-wait", "DURATION", environment: ["DEMOSYNC_MAX_STATUS_WAIT"], default: "30s",
                help: "Longest an outcome lookup holds for the verdict when the client asks (Prefer: wait=N on GET)."),
            .value(
                "outcome-capacity", "N", environment: ["DEMOSYNC_OUTCOME_CAPACITY"], default: "100000",
                help: "Most processor answers kept for GET /api/v1/payments/{id}."),
        ] + KafkaOptions.specifications + LoggingOptions.specifications)

    static func run(_ options: ParsedOptions) async throws -> Int32 {
        let kafka = try KafkaOptions.configuration(from: options, clientID: "demosync-serve")
        let topics = try KafkaOptions.topics(from: options, profile: kafka.profile)
        let gatewayConfiguration = GatewayConfiguration(
            kafka: kafka,
            topics: topics,
            captureTimeout: try options.duration("timeout", default: .seconds(30), allowZero: false),
            maxPendingCaptures: try options.integer("max-pending", default: 50_000, in: 1...10_000_000),
            replyRouting: try replyRouting(from: options),
            outcomeCapacity: try options.integer("outcome-capacity", default: 100_000, in: 1...100_000_000),
            outcomeRetention: try options.duration("outcome-retention", default: .seconds(24 * 3_600), allowZero: false),
            idempotencyCapacity: try options.integer("idempotency-capacity", default: 100_000, in: 1...100_000_000),
            idempotencyRetention: try options.duration("idempotency-retention", default: .seconds(24 * 3_600), allowZero: false))
        let server = ServerConfiguration(
            host: options.string("host", default: "0.0.0.0"),
            port: try options.integer("port", default: 8080, in: 0...65_535),
            api: APIConfiguration(
                limits: HTTPLimits(
                    maxBodyBytes: try options.integer("max-body-bytes", default: 64 * 1024, in: 256...(16 * 1024 * 1024)),
                    maxHeaderBytes: try options.integer("max-header-bytes", default: 16 * 1024, in: 1_024...(1024 * 1024)),
                    headerTimeout: try options.duration("header-timeout", default: .seconds(60), allowZero: false),
                    bodyTimeout: try options.duration("body-timeout", default: .seconds(60), allowZero: false),
                    idleTimeout: try options.duration("idle-timeout", default: .seconds(75), allowZero: false),
                    maxConnections: try options.integer("max-connections", default: HTTPLimits.defaultMaxConnections, in: 1...10_000_000)),
                authTokens: try authTokens(from: options),
                maximumStatusWait: try options.duration("max-status-wait", default: .seconds(30))),
            tls: try tlsFiles(from: options))
        let (logger, metrics, traceExport) = try LoggingOptions.bootstrap("demosync.serve", serviceName: "demosync-serve", from: options)

        let gateway = try KafkaPaymentGateway(configuration: gatewayConfiguration, logger: logger)
        DemoSyncVersion.recordBuildInfo()
        logger.info(
            "starting",
            metadata: [
                "version": "\(DemoSyncVersion.current)", "librdkafka": "\(LibrdkafkaVersion.runningDescription)", "kafka.bootstrap": "\(gatewayConfiguration.kafka.bootstrapServers)",
                "kafka.profile": "\(gatewayConfiguration.kafka.profile.rawValue)",
                "topics": "\(topics.request) → \(topics.reply)", "timeout": "\(gatewayConfiguration.captureTimeout)",
                // The layout a missing topic is created with (the profile decides it unless --partitions does).
                "topics.partitions_when_created": "\(topics.requestPartitions) → \(topics.replyPartitions)",
            ])
        logger.info("reply routing", metadata: ["routing": "\(gatewayConfiguration.replyRouting)"])
        if !server.api.authTokens.isEmpty {
            logger.info("bearer authentication on", metadata: ["tokens": "\(server.api.authTokens.count)"])
        }
        try await PaymentsServer.run(server: server, gateway: gateway, metrics: metrics, traceExport: traceExport, logger: logger) { port in
            logger.notice(
                "listening", metadata: ["http.scheme": "\(server.tls == nil ? "http" : "https")", "http.host": "\(server.host)", "http.port": "\(port)"])
        }
        return ExitCode.success
    }

    /// Both `--tls-certificate` and `--tls-key`, or neither.
    static func tlsFiles(from options: ParsedOptions) throws(UsageError) -> TLSFiles? {
        switch (options.string("tls-certificate"), options.string("tls-key")) {
        case (nil, nil): return nil
        case (let certificate?, let key?): return TLSFiles(certificateChain: certificate, privateKey: key)
        case (nil, _?): throw UsageError("--tls-key needs --tls-certificate", command: "serve")
        case (_?, nil): throw UsageError("--tls-certificate needs --tls-key", command: "serve")
        }
    }

    /// `all`, `partition=N` or `topic=NAME`.
    static func replyRouting(from options: ParsedOptions) throws(UsageError) -> ReplyRouting {
        let text = options.string("reply-routing", default: "all")
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        switch (parts.first, parts.count) {
        case ("all", 1):
            return .allPartitions
        case ("partition", 2):
            if let partition = Int32(parts[1]), partition >= 0 { return .ownedPartition(partition) }
        case ("topic", 2):
            if !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }) {
                return .ownedTopic(parts[1])
            }
        default:
            break
        }
        throw UsageError(
            "invalid value \"\(text)\" for --reply-routing: expected all, partition=N (N >= 0) or topic=NAME", command: "serve")
    }

    /// Tokens from the flags, the environment and the tokens file, without blanks.
    static func authTokens(from options: ParsedOptions) throws(UsageError) -> [String] {
        var tokens = options.valuesFromEnvironmentAndFlags("auth-token")
        if let path = options.string("auth-tokens-file") {
            tokens += try TextFile.lines(path, what: "tokens file", command: "serve")
        }
        if tokens.contains(where: { $0.count < 16 || $0.contains(where: \.isWhitespace) }) {
            throw UsageError("every auth token must be at least 16 characters, without spaces", command: "serve")
        }
        return tokens
    }
}
