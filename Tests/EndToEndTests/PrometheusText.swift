import Foundation

/// A parsed Prometheus text exposition: sample values by series (`name{labels}` exactly as
/// printed, labels in the exporter's order).
struct PrometheusText {
    let samples: [String: Double]

    init(_ text: String) {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            samples[String(line[..<space])] = value
        }
        self.samples = samples
    }

    /// The value of the series named `name` whose labels include all of `labels`.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        samples.first { series, _ in
            guard series == name || series.hasPrefix(name + "{") else { return false }
            return labels.allSatisfy { series.contains("\($0.key)=\"\($0.value)\"") }
        }?.value
    }
}
