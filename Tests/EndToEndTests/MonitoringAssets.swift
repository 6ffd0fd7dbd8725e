import Foundation
import TestSupport

/// A metric a PromQL expression selects, with the label matchers written right after its name.
struct MetricReference: Hashable, CustomStringConvertible {
    struct Matcher: Hashable {
        let label: String
        let op: String
        let value: String
    }

    let name: String
    let matchers: [Matcher]

    var description: String {
        matchers.isEmpty ? name : "\(name){\(matchers.map { "\($0.label)\($0.op)\"\($0.value)\"" }.joined(separator: ","))}"
    }

    /// Label values it requires of the exported series: `=` and plain alternations under `=~`
    /// (`timeout|unavailable|error`), for labels the process sets itself. `job` and `instance` are
    /// Prometheus's; values with Grafana variables or regular-expression syntax are not checked.
    var requiredLabelValues: [(label: String, values: [String])] {
        matchers.compactMap { matcher in
            guard !["job", "instance", "__name__"].contains(matcher.label), matcher.op == "=" || matcher.op == "=~" else { return nil }
            let alternatives = matcher.value.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            let plain = alternatives.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isLetter || $0.isNumber || "_-.+".contains($0) } }
            guard plain, matcher.op == "=~" || alternatives.count == 1 else { return nil }
            return (matcher.label, alternatives)
        }
    }
}

/// A loose PromQL reader: enough to find the metric names an expression selects, not a parser.
/// Strings, label matchers, ranges, comments and Grafana variables are skipped; identifiers
/// followed by `(` are functions; `by (…)`, `without (…)`, `on (…)`, `ignoring (…)`,
/// `group_left (…)`, `group_right (…)` list labels; keywords and aggregation operators are not
/// metrics. Every other identifier is a metric name (or, with a colon, a recording rule's).
enum PromQL {
    private static let grouping: Set<String> = ["by", "without", "on", "ignoring", "group_left", "group_right"]
    private static let keywords: Set<String> = grouping.union([
        "and", "or", "unless", "offset", "bool", "inf", "nan", "atan2", "sum", "min", "max", "avg", "group", "stddev", "stdvar",
        "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio",
    ])

    static func references(in expression: String) -> [MetricReference] {
        let text = Array(withoutGrafanaVariables(expression).unicodeScalars)
        var references: [MetricReference] = []
        var index = 0

        func isIdentifierPart(_ c: Unicode.Scalar) -> Bool { c == "_" || c == ":" || (c.isASCII && CharacterSet.alphanumerics.contains(c)) }
        func skipString(from start: Int) -> Int { // index after the closing quote
            let quote = text[start]
            var i = start + 1
            while i < text.count, text[i] != quote {
                i += (text[i] == "\\" && quote != "`") ? 2 : 1
            }
            return i + 1
        }
        func skipBalanced(from start: Int, open: Unicode.Scalar, close: Unicode.Scalar) -> Int { // index after the matching close
            var depth = 0
            var i = start
            while i < text.count {
                let c = text[i]
                if c == "\"" || c == "'" || c == "`" { i = skipString(from: i); continue }
                if c == open { depth += 1 } else if c == close { depth -= 1; if depth == 0 { return i + 1 } }
                i += 1
            }
            return i
        }
        func nextNonSpace(from start: Int) -> Int {
            var i = start
            while i < text.count, text[i].properties.isWhitespace { i += 1 }
            return i
        }

        while index < text.count {
            let c = text[index]
            switch c {
            case "\"", "'", "`":
                index = skipString(from: index)
            case "{":
                index = skipBalanced(from: index, open: "{", close: "}")
            case "[":
                index = skipBalanced(from: index, open: "[", close: "]")
            case "#":
                while index < text.count, text[index] != "\n" { index += 1 }
            case "0"..."9", ".":
                while index < text.count, isIdentifierPart(text[index]) || text[index] == "." { index += 1 }
            default:
                guard c.isASCII, CharacterSet.letters.contains(c) || c == "_" || c == ":" else { index += 1; continue }
                let start = index
                while index < text.count, isIdentifierPart(text[index]) { index += 1 }
                let identifier = String(String.UnicodeScalarView(text[start..<index]))
                let next = nextNonSpace(from: index)
                let followedByParenthesis = next < text.count && text[next] == "("
                if grouping.contains(identifier.lowercased()), followedByParenthesis {
                    index = skipBalanced(from: next, open: "(", close: ")")
                } else if followedByParenthesis || keywords.contains(identifier.lowercased()) {
                    continue
                } else {
                    var matchers: [MetricReference.Matcher] = []
                    if next < text.count, text[next] == "{" {
                        let end = skipBalanced(from: next, open: "{", close: "}")
                        matchers = parseMatchers(String(String.UnicodeScalarView(text[(next + 1)..<max(next + 1, end - 1)])))
                        index = end
                    }
                    references.append(MetricReference(name: identifier, matchers: matchers))
                }
            }
        }
        return references
    }

    static func metricNames(in expression: String) -> Set<String> {
        Set(references(in: expression).map(\.name))
    }

    /// `label="value", label=~"a|b"` → matchers (values unescaped only for `\"`).
    private static func parseMatchers(_ text: String) -> [MetricReference.Matcher] {
        let pattern = #/\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?/#
        return text.matches(of: pattern).map {
            MetricReference.Matcher(label: String($0.1), op: String($0.2), value: String($0.3).replacingOccurrences(of: "\\\"", with: "\""))
        }
    }

    /// Grafana's `$__rate_interval` and friends become `5m`, other variables (`$job`, `${job}`)
    /// a regular expression that matches anything: the expression is then plain PromQL.
    static func withoutGrafanaVariables(_ expression: String) -> String {
        expression
            .replacing(#/\$__(rate_)?interval|\$\{__(rate_)?interval\}|\$__range/#, with: "5m")
            .replacing(#/\$\{[A-Za-z0-9_]+(:[a-z]+)?\}|\$[A-Za-z_][A-Za-z0-9_]*/#, with: ".*")
    }
}

/// The files in deploy/, read the way a test can without a YAML library: the rules file is
/// written in a plain style (one `key: value` per line, PromQL either on the `expr:` line or in
/// a block scalar after `expr: |`).
enum MonitoringAssets {
    static let root = PackagePaths.root
    static let rulesPath = "deploy/prometheus/demosync-rules.yml"
    static let rulesTestPath = "deploy/prometheus/demosync-rules.test.yml"
    static let prometheusConfigPath = "deploy/prometheus/prometheus.example.yml"
    static let dashboardPath = "deploy/grafana/demosync-dashboard.json"

    /// Metrics the dashboard and rules may name that DemoSync does not export: Prometheus's own
    /// `up`, and the blackbox exporter's `probe_success` (readiness is not a DemoSync metric; see
    /// deploy/README.md).
    static let externalMetrics: Set<String> = ["up", "probe_success"]

    static func text(_ path: String) throws -> String {
        try String(contentsOf: root.appending(path: path), encoding: .utf8)
    }

    struct Rule {
        let kind: String  // "record" or "alert"
        let name: String
        var expr = ""
        var annotations: [String: String] = [:]
    }

    /// The rules of a rule file, in order, with their expressions and annotation keys/values
    /// (a folded annotation's value is its first line only, enough to tell it is there).
    static func rules(_ yaml: String) -> [Rule] {
        let lines = yaml.components(separatedBy: "\n")
        var rules: [Rule] = []
        var index = 0
        func indentation(_ line: String) -> Int { line.prefix { $0 == " " }.count }
        func unquoted(_ value: String) -> String {
            let trimmed = value.trimmingCharacters(in: .whitespaces)
            if trimmed.count >= 2, trimmed.hasPrefix("'"), trimmed.hasSuffix("'") {
                return String(trimmed.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
            }
            if trimmed.count >= 2, trimmed.hasPrefix("\""), trimmed.hasSuffix("\"") {
                return String(trimmed.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"")
            }
            return trimmed
        }
        /// The value of `key:` at `lines[index]`: inline, or the block scalar under it (more
        /// indented than the key). Returns the value and the index of the next line to read.
        func value(at index: Int, keyColumn: Int, inline: String) -> (String, Int) {
            let inline = inline.trimmingCharacters(in: .whitespaces)
            guard inline.hasPrefix("|") || inline.hasPrefix(">") else { return (unquoted(inline), index + 1) }
            var block: [String] = []
            var next = index + 1
            while next < lines.count, lines[next].trimmingCharacters(in: .whitespaces).isEmpty || indentation(lines[next]) > keyColumn {
                block.append(lines[next].trimmingCharacters(in: .whitespaces))
                next += 1
            }
            while block.last?.isEmpty == true { block.removeLast() }
            return (block.joined(separator: inline.hasPrefix(">") ? " " : "\n"), next)
        }
        let keyLine = #/^(\s*(?:-\s+)?)([A-Za-z_]+):\s?(.*)$/#
        var inAnnotations = false
        var annotationsColumn = 0
        while index < lines.count {
            let line = lines[index]
            guard !line.trimmingCharacters(in: .whitespaces).hasPrefix("#"), let match = line.wholeMatch(of: keyLine) else {
                index += 1
                continue
            }
            let column = match.1.count
            let key = String(match.2)
            let (value, next) = value(at: index, keyColumn: column, inline: String(match.3))
            if inAnnotations, column <= annotationsColumn { inAnnotations = false }
            if key == "record" || key == "alert", match.1.contains("-") {
                rules.append(Rule(kind: key, name: value))
            } else if key == "expr", !rules.isEmpty {
                rules[rules.count - 1].expr = value
            } else if key == "annotations", !rules.isEmpty {
                inAnnotations = true
                annotationsColumn = column
            } else if inAnnotations, !rules.isEmpty {
                rules[rules.count - 1].annotations[key] = value
            }
            index = next
        }
        return rules
    }

    /// Every PromQL expression of a Grafana dashboard: the targets' `expr`, and the metric
    /// queries of template variables (`label_values(metric, label)`, `query_result(expr)`).
    static func dashboardExpressions(_ json: Data) throws -> [(where: String, expr: String)] {
        let dashboard = try JSONSerialization.jsonObject(with: json)
        var expressions: [(String, String)] = []
        func walk(_ value: Any, _ path: String) {
            if let object = value as? [String: Any] {
                for (key, child) in object {
                    if key == "expr", let expr = child as? String, !expr.isEmpty { expressions.append((path, expr)) }
                    walk(child, path + "/" + ((object["title"] as? String) ?? key))
                }
            } else if let array = value as? [Any] {
                for (offset, child) in array.enumerated() { walk(child, "\(path)[\(offset)]") }
            }
        }
        walk(dashboard, "")
        let variables = ((dashboard as? [String: Any])?["templating"] as? [String: Any])?["list"] as? [[String: Any]] ?? []
        for variable in variables where variable["type"] as? String == "query" {
            let query = (variable["query"] as? String) ?? ((variable["query"] as? [String: Any])?["query"] as? String) ?? ""
            let name = variable["name"] as? String ?? "?"
            if let match = query.wholeMatch(of: #/\s*label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\s*\)\s*/#) {
                expressions.append(("variable \(name)", String(match.1)))
            } else if let match = query.wholeMatch(of: #/\s*query_result\((.*)\)\s*/#) {
                expressions.append(("variable \(name)", String(match.1)))
            }
        }
        return expressions
    }

    /// The GitHub anchors of a Markdown file's headings (`## What a 504 means` → `what-a-504-means`).
    static func anchors(ofMarkdown markdown: String) -> Set<String> {
        Set(markdown.components(separatedBy: "\n").compactMap { line -> String? in
            guard let match = line.wholeMatch(of: #/#{1,6}\s+(.+?)\s*/#) else { return nil }
            return String(match.1).lowercased()
                .filter { $0.isLetter || $0.isNumber || $0 == " " || $0 == "-" || $0 == "_" }
                .replacingOccurrences(of: " ", with: "-")
        })
    }
}

/// Series of a Prometheus text exposition, by metric name.
struct ExportedSeries {
    /// Label sets of every sample, by metric name (`demosync_capture_duration_seconds_bucket`…).
    let labelSets: [String: [[String: String]]]

    init(_ text: String) {
        var labelSets: [String: [[String: String]]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let match = line.wholeMatch(of: #/([A-Za-z_:][A-Za-z0-9_:]*)(\{.*\})?\s+\S+(\s+\S+)?/#) else { continue }
            var labels: [String: String] = [:]
            if let body = match.2 {
                for pair in body.matches(of: #/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/#) { labels[String(pair.1)] = String(pair.2) }
            }
            labelSets[String(match.1), default: []].append(labels)
        }
        self.labelSets = labelSets
    }

    init(merging parts: [ExportedSeries]) {
        labelSets = parts.reduce(into: [:]) { merged, part in merged.merge(part.labelSets) { $0 + $1 } }
    }

    var names: Set<String> { Set(labelSets.keys) }

    /// Why `reference` selects nothing here, or nil when it does: the name is not exported, or
    /// no exported series has one of the label values it requires.
    func problem(with reference: MetricReference) -> String? {
        guard let sets = labelSets[reference.name] else { return "\(reference.name) is not exported" }
        for (label, values) in reference.requiredLabelValues {
            let exported = Set(sets.compactMap { $0[label] })
            let missing = values.filter { !exported.contains($0) }
            if !missing.isEmpty {
                return "\(reference): no series with \(label)=\(missing.joined(separator: "|")) (exported: \(exported.sorted()))"
            }
        }
        return nil
    }
}

/// promtool, from Debian's `prometheus` package (installed by `make deps`).
enum Promtool {
    static var path: String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/bin"]
        return directories.map { "\($0)/promtool" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// `make test` sets DEMOSYNC_REQUIRE_PROMTOOL: there, a missing promtool fails the tests
    /// instead of disabling them.
    static var required: Bool { !(ProcessInfo.processInfo.environment["DEMOSYNC_REQUIRE_PROMTOOL"] ?? "").isEmpty }

    /// Runs promtool to completion. Give files as absolute paths: it resolves relative ones
    /// against the test process's working directory.
    static func run(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        guard let path else { throw TestSupportError("promtool is not installed: run `make deps` (Debian's prometheus package)") }
        let process = try ManagedProcess.launch(executable: path, arguments: arguments, name: "promtool")
        guard let status = await process.waitForExit(timeout: .seconds(60)) else {
            await process.terminate()
            throw TestSupportError("promtool \(arguments.joined(separator: " ")) did not finish")
        }
        return (status, process.output)
    }
}
