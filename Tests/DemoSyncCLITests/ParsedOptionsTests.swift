@testable import DemoSyncCLI
import Kafka
import Payments
import PaymentsWire
import Testing

@Suite("Argument parsing")
struct ParsedOptionsTests {
    let serve = ServeCommand.specification
    let simulate = SimulateCommand.specification
    let capture = CaptureCommand.specification

    private func parse(_ arguments: [String], _ command: CommandSpecification, environment: [String: String] = [:]) throws
        -> ParsedOptions
    {
        try ParsedOptions(arguments, command: command, environment: environment)
    }

    private func usageError(_ body: () throws -> Void) -> UsageError? {
        do {
            try body()
            return nil
        } catch let error as UsageError {
            return error
        } catch {
            return nil
        }
    }

    @Test("--flag value and --flag=value are the same; a flag beats its environment variable, which beats the default")
    func precedence() throws {
        #expect(try parse(["--port", "9000"], serve).integer("port", default: 8080, in: 0...65_535) == 9000)
        #expect(try parse(["--port=9001"], serve).integer("port", default: 8080, in: 0...65_535) == 9001)
        let environment = ["DEMOSYNC_HTTP_PORT": "7000"]
        #expect(try parse([], serve, environment: environment).integer("port", default: 8080, in: 0...65_535) == 7000)
        #expect(try parse(["--port", "9000"], serve, environment: environment).integer("port", default: 8080, in: 0...65_535) == 9000)
        #expect(try parse([], serve).integer("port", default: 8080, in: 0...65_535) == 8080)
    }

    @Test("the original's environment variables configure Kafka and the simulator")
    func originalEnvironment() throws {
        let environment = [
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:29092", "KAFKA_REQUEST_TOPIC": "requests", "KAFKA_RESPONSE_TOPIC": "responses",
            "PROCESSING_DELAY_MS": "1500",
        ]
        let options = try parse([], simulate, environment: environment)
        #expect(try KafkaOptions.configuration(from: options, clientID: "t").bootstrapServers == "kafka:29092")
        let topics = try KafkaOptions.topics(from: options, profile: .standard)
        #expect(topics.request == "requests" && topics.reply == "responses")
        #expect(try options.duration("delay", default: .seconds(2)) == .milliseconds(1500))
    }

    @Test("durations are milliseconds or carry a unit", arguments: [("250", 250), ("250ms", 250), ("2s", 2_000), ("1m", 60_000), ("24h", 86_400_000), ("0", 0)])
    func durations(text: String, milliseconds: Int64) {
        #expect(ParsedOptions.parseDuration(text) == .milliseconds(milliseconds))
    }

    @Test("malformed durations are refused", arguments: ["", "soon", "-5", "1.5s", "2d", "s", "99999999999"])
    func badDurations(text: String) {
        #expect(ParsedOptions.parseDuration(text) == nil)
    }

    @Test("approval rates are fractions or percentages within 0 to 1")
    func fractions() throws {
        #expect(try parse(["--approval-rate", "0.25"], simulate).fraction("approval-rate", default: 0.8) == 0.25)
        #expect(try parse(["--approval-rate", "80%"], simulate).fraction("approval-rate", default: 0) == 0.8)
        for bad in ["1.5", "-0.1", "lots", "nan", "120%"] {
            let error = usageError { _ = try parse(["--approval-rate", bad], simulate).fraction("approval-rate", default: 0.8) }
            #expect(error?.message.contains("--approval-rate") == true, "\(bad)")
        }
    }

    @Test("repeatable options keep every value; environment values split on ;")
    func repeatable() throws {
        let options = try parse(["--kafka-property", "linger.ms=1", "--kafka-property", "acks=all"], serve)
        let configuration = try KafkaOptions.configuration(from: options, clientID: "t")
        #expect(configuration.properties == ["linger.ms": "1", "acks": "all"])
        let fromEnvironment = try parse([], serve, environment: ["DEMOSYNC_KAFKA_PROPERTIES": "a.b=1; c.d=x=y"])
        #expect(try KafkaOptions.configuration(from: fromEnvironment, clientID: "t").properties == ["a.b": "1", "c.d": "x=y"])
        // Flags add to the environment's properties and win for the same key.
        let both = try parse(["--kafka-property", "a.b=2", "--kafka-property", "e.f=3"], serve, environment: ["DEMOSYNC_KAFKA_PROPERTIES": "a.b=1;c.d=4"])
        #expect(try KafkaOptions.configuration(from: both, clientID: "t").properties == ["a.b": "2", "c.d": "4", "e.f": "3"])
    }

    @Test("the Kafka profile defaults to standard (idempotent producer on) and accepts local")
    func profile() throws {
        let defaults = try KafkaOptions.configuration(from: parse([], serve), clientID: "t")
        #expect(defaults.profile == .standard)
        #expect(try KafkaOptions.configuration(from: parse(["--kafka-profile", "local"], serve), clientID: "t").profile == .local)
        #expect(try KafkaOptions.configuration(from: parse(["--kafka-profile", "local"], simulate), clientID: "t").profile == .local)
        #expect(usageError { _ = try KafkaOptions.configuration(from: parse(["--kafka-profile", "fast"], serve), clientID: "t") } != nil)
    }

    @Test("usage errors name the problem", arguments: [
        (["--nope"], "unknown option --nope"),
        (["--port"], "--port needs a value"),
        (["--port", "1", "--port", "2"], "more than once"),
        (["--no-create-topics=yes"], "takes no value"),
        (["stray"], "unexpected argument stray"),
        (["--port", "70000"], "0 to 65535"),
        (["--timeout", "0"], "above zero"),
    ] as [([String], String)])
    func usageErrors(arguments: [String], expected: String) {
        let error = usageError {
            let options = try parse(arguments, serve)
            _ = try options.integer("port", default: 8080, in: 0...65_535)
            _ = try options.duration("timeout", default: .seconds(30), allowZero: false)
        }
        #expect(error?.message.contains(expected) == true, "got \(String(describing: error))")
        #expect(error?.command == "serve")
    }

    @Test("a bad environment value names the variable")
    func badEnvironment() {
        let error = usageError {
            _ = try parse([], simulate, environment: ["PROCESSING_DELAY_MS": "later"]).duration("delay", default: .seconds(2))
        }
        #expect(error?.message.contains("PROCESSING_DELAY_MS") == true)
    }

    @Test("topics must be valid Kafka names and differ")
    func topics() {
        #expect(usageError { _ = try KafkaOptions.topics(from: parse(["--request-topic", "has space"], serve), profile: .standard) } != nil)
        #expect(
            usageError { _ = try KafkaOptions.topics(from: parse(["--request-topic", "same", "--response-topic", "same"], serve), profile: .standard) }
                != nil)
    }

    @Test("the layout of created topics: 3 partitions each, 1 for the keyed request topic on the local profile, all N with --partitions")
    func topicLayout() throws {
        for command in [serve, simulate] {
            let standard = try KafkaOptions.topics(from: parse([], command), profile: .standard)
            #expect(standard.requestPartitions == 3 && standard.replyPartitions == 3)
            let local = try KafkaOptions.topics(from: parse([], command), profile: .local)
            #expect(local.requestPartitions == 1 && local.replyPartitions == 3)
            let chosen = try KafkaOptions.topics(from: parse(["--partitions", "5"], command), profile: .local)
            #expect(chosen.requestPartitions == 5 && chosen.replyPartitions == 5)
            let fromEnvironment = try KafkaOptions.topics(from: parse([], command, environment: ["DEMOSYNC_TOPIC_PARTITIONS": "2"]), profile: .local)
            #expect(fromEnvironment.requestPartitions == 2 && fromEnvironment.replyPartitions == 2)
            #expect(usageError { _ = try KafkaOptions.topics(from: parse(["--partitions", "0"], command), profile: .local) } != nil)
        }
    }

    @Test("amounts parse exactly; metadata needs KEY=VALUE")
    func captureOptions() throws {
        #expect(try parse(["--amount", "100.50"], capture).amount("amount") == Amount(exactly: "100.50"))
        #expect(usageError { _ = try parse(["--amount", "1e3"], capture).amount("amount") } != nil)
        #expect(try parse(["--metadata", "order=1", "--metadata", "k=v=w"], capture).pairs("metadata").map(\.value) == ["1", "v=w"])
        #expect(usageError { _ = try parse(["--metadata", "novalue"], capture).pairs("metadata") } != nil)
    }

    @Test("help lists every option with its environment variable and default")
    func help() {
        let text = serve.helpText
        for option in serve.options {
            #expect(text.contains("--\(option.name)"))
            for variable in option.environment { #expect(text.contains(variable)) }
        }
        #expect(text.contains("KAFKA_BOOTSTRAP_SERVERS"))
        #expect(CaptureCommand.specification.helpText.contains("Exit codes"))
    }

    @Test("the command line as a whole: no command, unknown command and top-level help")
    func dispatch() async {
        #expect(await DemoSyncCommandLine.run([], environment: [:]) == ExitCode.usage)
        #expect(await DemoSyncCommandLine.run(["deploy"], environment: [:]) == ExitCode.usage)
        #expect(await DemoSyncCommandLine.run(["--help"], environment: [:]) == ExitCode.success)
        #expect(await DemoSyncCommandLine.run(["capture", "--amount", "-3"], environment: [:]) == ExitCode.usage)
        #expect(await DemoSyncCommandLine.run(["capture", "--amount", "1", "--currency", "brl"], environment: [:]) == ExitCode.usage)
    }
}
