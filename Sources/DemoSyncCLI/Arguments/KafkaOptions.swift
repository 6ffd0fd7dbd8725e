import Foundation
import Kafka
import Payments
import PaymentsWire

/// The Kafka options `serve` and `simulate` share, with the original's environment variables.
enum KafkaOptions {
    static let specifications: [OptionSpecification] = [
        .value(
            "bootstrap-servers", "HOST:PORT,...", environment: ["KAFKA_BOOTSTRAP_SERVERS"], default: "127.0.0.1:9092",
            help: "Kafka brokers to bootstrap from."),
        .value(
            "request-topic", "TOPIC", environment: ["KAFKA_REQUEST_TOPIC"], default: "payment-requests",
            help: "Topic capture requests are produced to."),
        .value(
            "response-topic", "TOPIC", environment: ["KAFKA_RESPONSE_TOPIC"], default: "payment-responses",
            help: "Topic processors reply on."),
        .value(
            "kafka-profile", "standard|local", environment: ["DEMOSYNC_KAFKA_PROFILE"], default: "standard",
            help: """
                Client tuning for the broker on the other end. `standard` (the default) is for Apache Kafka and compatible \
                brokers: idempotent producer, librdkafka's fetch waits. `local` is for the development broker `make run` \
                starts (Tansu): fetch waits of 5 ms and short group timeouts, one produce request in flight per connection, \
                and no idempotent producer (it forgets producer ids on restart). Never use `local` against a production \
                cluster.
                """),
        .value(
            "kafka-property", "KEY=VALUE", environment: ["DEMOSYNC_KAFKA_PROPERTIES"], repeatable: true,
            help: "Any librdkafka property, passed through (TLS, SASL, tuning); in the environment, separate pairs with `;`."),
        .value(
            "kafka-properties-file", "PATH", environment: ["DEMOSYNC_KAFKA_PROPERTIES_FILE"],
            help: "A file of librdkafka properties, one KEY=VALUE per line (# starts a comment), applied before --kafka-property. Keeps secrets off the command line."),
        .value(
            "partitions", "N", environment: ["DEMOSYNC_TOPIC_PARTITIONS"],
            default: "3; with --kafka-profile local, 1 for the request topic and the verdict journal",
            help: "Partitions of topics created at start-up (all of them, when given)."),
        .flag(
            "no-create-topics", environment: ["DEMOSYNC_NO_CREATE_TOPICS"],
            help: "Do not create missing topics at start-up (when topics are managed elsewhere)."),
    ]

    /// The Kafka configuration the options describe.
    static func configuration(from options: ParsedOptions, clientID: String) throws(UsageError) -> KafkaConfiguration {
        var properties: [String: String] = [:]
        if let path = options.string("kafka-properties-file") {
            properties = try readPropertiesFile(path, command: options.command.name)
        }
        for (key, value) in try options.pairs("kafka-property") {
            properties[key] = value
        }
        let servers = options.string("bootstrap-servers", default: "127.0.0.1:9092")
        guard !servers.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw UsageError("--bootstrap-servers must name at least one broker", command: options.command.name)
        }
        return KafkaConfiguration(
            bootstrapServers: servers, clientID: clientID, profile: try options.choice("kafka-profile", default: .standard),
            properties: properties)
    }

    /// The topics and the layout to create them with; `profile` decides the request topic's
    /// partitions when `--partitions` is not given (``PaymentTopics/defaultRequestPartitions(for:)``).
    static func topics(from options: ParsedOptions, profile: KafkaConfiguration.Profile) throws(UsageError) -> PaymentTopics {
        let request = options.string("request-topic", default: "payment-requests")
        let reply = options.string("response-topic", default: "payment-responses")
        for topic in [request, reply] { _ = try topicName(topic, command: options.command.name) }
        guard request != reply else {
            throw UsageError("the request and response topics must differ (both are \"\(request)\")", command: options.command.name)
        }
        let chosen: Int? = options.string("partitions") == nil ? nil : try options.integer("partitions", default: 3, in: 1...10_000)
        return PaymentTopics(
            request: request, reply: reply, requestPartitions: chosen ?? PaymentTopics.defaultRequestPartitions(for: profile),
            replyPartitions: chosen ?? 3, createMissing: try !options.flag("no-create-topics"))
    }

    /// `name` if it is a valid Kafka topic name, else a usage error saying what is allowed.
    static func topicName(_ name: String, command: String) throws(UsageError) -> String {
        guard isValidTopicName(name) else {
            throw UsageError("invalid topic name \"\(name)\": use 1 to 249 letters, digits, '.', '_' or '-'", command: command)
        }
        return name
    }

    private static func isValidTopicName(_ name: String) -> Bool {
        (1...249).contains(name.count) && name != "." && name != ".."
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-") }
    }

    private static func readPropertiesFile(_ path: String, command: String) throws(UsageError) -> [String: String] {
        var properties: [String: String] = [:]
        for (number, line) in try TextFile.numberedLines(path, what: "Kafka properties file", command: command) {
            guard let equals = line.firstIndex(of: "="), equals != line.startIndex else {
                throw UsageError("\(path):\(number): expected KEY=VALUE", command: command)
            }
            properties[line[..<equals].trimmingCharacters(in: .whitespaces)] = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
        }
        return properties
    }
}

