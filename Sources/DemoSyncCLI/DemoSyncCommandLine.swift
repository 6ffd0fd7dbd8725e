import Foundation
import Operations
import Kafka

/// The `demosync` command line: picks the subcommand, parses its options, runs it, and turns
/// every outcome into an exit code. Parsing is by hand (see `Arguments/`); commands only wire
/// the layers below together.
public enum DemoSyncCommandLine {
    static let commands: [(specification: CommandSpecification, run: @Sendable (ParsedOptions) async throws -> Int32)] = [
        (ServeCommand.specification, ServeCommand.run),
        (SimulateCommand.specification, SimulateCommand.run),
        (CaptureCommand.specification, CaptureCommand.run),
    ]

    static var topLevelHelp: String {
        var lines = [
            "Usage: demosync <command> [options]", "",
            "A payments API with a synchronous face over an asynchronous Kafka pipeline.", "", "Commands:",
        ]
        for (specification, _) in commands {
            let firstSentence = specification.summary.split(separator: ":").first.map(String.init) ?? specification.summary
            lines.append("  \(specification.name.padding(toLength: 10, withPad: " ", startingAt: 0))\(firstSentence)")
        }
        lines += ["", "Run `demosync <command> --help` for a command's options.", ""]
        return lines.joined(separator: "\n")
    }

    /// Runs `demosync` with `arguments` (without the program name) and returns the exit code.
    public static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) async -> Int32 {
        do {
            return try await dispatch(arguments, environment: environment)
        } catch let error as UsageError {
            printError(error.message)
            let helpCommand = error.command.map { "demosync \($0) --help" } ?? "demosync --help"
            printError("run `\(helpCommand)` for usage")
            return ExitCode.usage
        } catch let error as KafkaError {
            printError("Kafka: \(error.message)")
            return ExitCode.failure
        } catch {
            printError("\(error)")
            return ExitCode.failure
        }
    }

    static func dispatch(_ arguments: [String], environment: [String: String]) async throws -> Int32 {
        guard let name = arguments.first else {
            print(topLevelHelp, terminator: "")
            throw UsageError("a command is required: serve, simulate or capture")
        }
        if ["--help", "-h", "help"].contains(name) {
            print(topLevelHelp, terminator: "")
            return ExitCode.success
        }
        if name == "--version" {
            print(DemoSyncVersion.description)
            return ExitCode.success
        }
        guard let command = commands.first(where: { $0.specification.name == name }) else {
            throw UsageError("unknown command \"\(name)\": expected serve, simulate or capture")
        }
        let options = try ParsedOptions(Array(arguments.dropFirst()), command: command.specification, environment: environment)
        if try options.flag("help") {
            print(command.specification.helpText, terminator: "")
            return ExitCode.success
        }
        return try await command.run(options)
    }
}
