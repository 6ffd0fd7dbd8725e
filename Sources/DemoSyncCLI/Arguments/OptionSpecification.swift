import Foundation

/// One command-line option: its flag, the environment variables that can set it instead, and
/// its help text.
struct OptionSpecification: Sendable {
    /// The long name, without dashes: `port` for `--port`.
    let name: String
    /// A one-letter alias, without the dash: `h` for `-h`.
    let shortName: Character?
    /// The placeholder in help (`PORT`); `nil` for a switch that takes no value.
    let valueName: String?
    /// Environment variables consulted, in order, when the flag is absent.
    let environment: [String]
    /// The default, as shown in help.
    let defaultValue: String?
    let help: String
    /// May be given more than once (every value is kept).
    let repeatable: Bool

    static func value(
        _ name: String, _ valueName: String, environment: [String] = [], default defaultValue: String? = nil,
        repeatable: Bool = false, help: String
    ) -> OptionSpecification {
        OptionSpecification(
            name: name, shortName: nil, valueName: valueName, environment: environment, defaultValue: defaultValue,
            help: help, repeatable: repeatable)
    }

    static func flag(_ name: String, short: Character? = nil, environment: [String] = [], help: String) -> OptionSpecification {
        OptionSpecification(
            name: name, shortName: short, valueName: nil, environment: environment, defaultValue: nil, help: help, repeatable: false)
    }

    static let help = OptionSpecification.flag("help", short: "h", help: "Show this help and exit.")

    var takesValue: Bool { valueName != nil }
}

/// A command's name, summary and options, from which its parser and its help are made.
struct CommandSpecification: Sendable {
    let name: String
    let summary: String
    let options: [OptionSpecification]
    /// Extra paragraphs printed after the options (exit codes, examples).
    let epilogue: String

    init(name: String, summary: String, options: [OptionSpecification], epilogue: String = "") {
        self.name = name
        self.summary = summary
        self.options = options + [.help]
        self.epilogue = epilogue
    }

    /// The `--help` text.
    var helpText: String {
        var lines = ["Usage: demosync \(name) [options]", "", summary, "", "Options:"]
        for option in options {
            var flag = "  --\(option.name)"
            if let short = option.shortName { flag = "  -\(short), --\(option.name)" }
            if let valueName = option.valueName { flag += " \(valueName)" }
            var help = option.help
            if option.repeatable { help += " Repeatable." }
            if let defaultValue = option.defaultValue { help += " Default: \(defaultValue)." }
            if !option.environment.isEmpty { help += " Env: \(option.environment.joined(separator: ", "))." }
            let padded = flag.count < 34 ? flag.padding(toLength: 34, withPad: " ", startingAt: 0) : flag + "\n" + String(repeating: " ", count: 34)
            lines.append(padded + wrap(help, width: 66, indent: 34))
        }
        if !epilogue.isEmpty { lines += ["", epilogue] }
        return lines.joined(separator: "\n") + "\n"
    }

    private func wrap(_ text: String, width: Int, indent: Int) -> String {
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            if !current.isEmpty, current.count + word.count + 1 > width {
                lines.append(current)
                current = ""
            }
            current += current.isEmpty ? String(word) : " \(word)"
        }
        if !current.isEmpty { lines.append(current) }
        return lines.joined(separator: "\n" + String(repeating: " ", count: indent))
    }
}
