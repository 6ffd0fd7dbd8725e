import Foundation
import Kafka
import Logging
import Payments

/// Options read from the command line, falling back to environment variables, with typed
/// accessors that turn a bad value into a ``UsageError`` naming the flag, the value and what
/// was expected.
struct ParsedOptions: Sendable {
    let command: CommandSpecification
    private let given: [String: [String]]
    private let environment: [String: String]

    /// Parses `arguments` (without the program and command names) against `command`.
    init(_ arguments: [String], command: CommandSpecification, environment: [String: String]) throws(UsageError) {
        self.command = command
        self.environment = environment
        var given: [String: [String]] = [:]
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            let (name, inlineValue) = try Self.split(argument, command: command.name)
            guard let option = command.options.first(where: { $0.name == name || $0.shortName.map(String.init) == name }) else {
                throw UsageError("unknown option \(argument) for `demosync \(command.name)`", command: command.name)
            }
            if option.takesValue {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else if index < arguments.count, !arguments[index].hasPrefix("--") {
                    value = arguments[index]
                    index += 1
                } else {
                    throw UsageError("--\(option.name) needs a value (\(option.valueName ?? "VALUE"))", command: command.name)
                }
                if !option.repeatable, given[option.name] != nil {
                    throw UsageError("--\(option.name) is given more than once", command: command.name)
                }
                given[option.name, default: []].append(value)
            } else {
                if inlineValue != nil {
                    throw UsageError("--\(option.name) takes no value", command: command.name)
                }
                given[option.name] = ["true"]
            }
        }
        self.given = given
    }

    private static func split(_ argument: String, command: String) throws(UsageError) -> (String, String?) {
        if argument.hasPrefix("--") {
            let body = argument.dropFirst(2)
            guard !body.isEmpty else { throw UsageError("unexpected `--`", command: command) }
            if let equals = body.firstIndex(of: "=") {
                return (String(body[..<equals]), String(body[body.index(after: equals)...]))
            }
            return (String(body), nil)
        }
        if argument.hasPrefix("-"), argument.count == 2 {
            return (String(argument.dropFirst()), nil)
        }
        throw UsageError("unexpected argument \(argument) for `demosync \(command)` (options start with --)", command: command)
    }

    private func specification(_ name: String) -> OptionSpecification {
        guard let option = command.options.first(where: { $0.name == name }) else {
            preconditionFailure("option --\(name) is not declared for \(command.name)")
        }
        return option
    }

    /// Where a value came from, for error messages.
    private func source(_ name: String) -> (value: String, origin: String)? {
        if let value = given[name]?.last { return (value, "--\(name)") }
        for variable in specification(name).environment {
            if let value = environment[variable], !value.isEmpty { return (value, "the environment variable \(variable)") }
        }
        return nil
    }

    private func invalid(_ name: String, _ origin: String, _ value: String, expected: String) -> UsageError {
        UsageError("invalid value \"\(value)\" for \(origin): expected \(expected)", command: command.name)
    }

    /// Whether a switch is on (given, or its environment variable is `1`, `true` or `yes`).
    func flag(_ name: String) throws(UsageError) -> Bool {
        if given[name] != nil { return true }
        guard let (value, origin) = source(name) else { return false }
        switch value.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw invalid(name, origin, value, expected: "true or false")
        }
    }

    func string(_ name: String) -> String? { source(name)?.value }

    func string(_ name: String, default defaultValue: String) -> String { source(name)?.value ?? defaultValue }

    func integer(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let (value, origin) = source(name) else { return defaultValue }
        guard let number = Int(value), range.contains(number) else {
            throw invalid(name, origin, value, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }

    /// A duration: a bare number of milliseconds (as the original's `PROCESSING_DELAY_MS`), or a
    /// number with a unit: `250ms`, `2s`, `1m`, `24h`.
    func duration(_ name: String, default defaultValue: Duration, allowZero: Bool = true) throws(UsageError) -> Duration {
        guard let (value, origin) = source(name) else { return defaultValue }
        guard let duration = Self.parseDuration(value), allowZero || duration > .zero else {
            throw invalid(name, origin, value, expected: "milliseconds or a duration such as 500ms, 2s, 1m, 24h\(allowZero ? "" : ", above zero")")
        }
        return duration
    }

    static func parseDuration(_ text: String) -> Duration? {
        let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        var digits = Substring(text.trimmingCharacters(in: .whitespaces))
        var multiplier: Int64 = 1
        for unit in units where digits.hasSuffix(unit.suffix) {
            digits = digits.dropLast(unit.suffix.count)
            multiplier = unit.milliseconds
            break
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
            let amount = Int64(digits), amount <= Int64(Int32.max)
        else { return nil }
        return .milliseconds(amount * multiplier)
    }

    /// A fraction from 0 to 1, written `0.8` or `80%`.
    func fraction(_ name: String, default defaultValue: Double) throws(UsageError) -> Double {
        guard let (value, origin) = source(name) else { return defaultValue }
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        let parsed = trimmed.hasSuffix("%") ? Double(trimmed.dropLast()).map { $0 / 100 } : Double(trimmed)
        guard let fraction = parsed, fraction.isFinite, (0...1).contains(fraction) else {
            throw invalid(name, origin, value, expected: "a fraction from 0 to 1 (0.8) or a percentage (80%)")
        }
        return fraction
    }

    /// Every value from both sources: the environment's first, then the flags', so that a flag
    /// adds to (and for the same key, overrides) what the environment sets.
    func valuesFromEnvironmentAndFlags(_ name: String) -> [String] {
        var values: [String] = []
        for variable in specification(name).environment {
            if let value = environment[variable], !value.isEmpty {
                values += value.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
                break
            }
        }
        return values + (given[name] ?? [])
    }

    /// `key=value` pairs from a repeatable option, the environment's first, then the flags'.
    func pairs(_ name: String) throws(UsageError) -> [(key: String, value: String)] {
        var result: [(key: String, value: String)] = []
        for entry in valuesFromEnvironmentAndFlags(name) {
            guard let equals = entry.firstIndex(of: "="), equals != entry.startIndex else {
                throw invalid(name, "--\(name)", entry, expected: "KEY=VALUE")
            }
            result.append((String(entry[..<equals]), String(entry[entry.index(after: equals)...])))
        }
        return result
    }

    func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, default defaultValue: Choice) throws(UsageError) -> Choice
    where Choice.RawValue == String {
        guard let (value, origin) = source(name) else { return defaultValue }
        guard let choice = Choice(rawValue: value.lowercased()) else {
            throw invalid(name, origin, value, expected: "one of \(Choice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    func logLevel(_ name: String, default defaultValue: Logger.Level) throws(UsageError) -> Logger.Level {
        guard let (value, origin) = source(name) else { return defaultValue }
        guard let level = Logger.Level(rawValue: value.lowercased()) else {
            throw invalid(name, origin, value, expected: "one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return level
    }

    func amount(_ name: String) throws(UsageError) -> Amount? {
        guard let (value, origin) = source(name) else { return nil }
        guard let amount = Amount(exactly: value) else {
            throw invalid(name, origin, value, expected: "a decimal amount such as 100.50")
        }
        return amount
    }
}
