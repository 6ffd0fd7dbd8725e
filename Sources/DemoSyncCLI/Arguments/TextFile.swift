import Foundation

/// Reads the small configuration files the options point at (Kafka properties, tokens): lines
/// trimmed, blank lines and `#` comments skipped.
enum TextFile {
    /// The meaningful lines with their 1-based line numbers.
    static func numberedLines(_ path: String, what: String, command: String) throws(UsageError) -> [(number: Int, line: String)] {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw UsageError("cannot read the \(what) \(path): \(error.localizedDescription)", command: command)
        }
        return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, raw in
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            return line.isEmpty || line.hasPrefix("#") ? nil : (index + 1, line)
        }
    }

    static func lines(_ path: String, what: String, command: String) throws(UsageError) -> [String] {
        try numberedLines(path, what: what, command: command).map(\.line)
    }
}
