/// Percentiles of a set of latency samples, in microseconds (nearest-rank).
struct LatencySummary {
    let count: Int
    let minimum: Double
    let mean: Double
    let p50: Double
    let p90: Double
    let p99: Double
    let p999: Double
    let maximum: Double

    init(microseconds samples: [Double]) {
        let sorted = samples.sorted()
        count = sorted.count
        minimum = sorted.first ?? 0
        maximum = sorted.last ?? 0
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
        func percentile(_ p: Double) -> Double {
            guard !sorted.isEmpty else { return 0 }
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
            return sorted[min(max(rank, 1), sorted.count) - 1]
        }
        p50 = percentile(50)
        p90 = percentile(90)
        p99 = percentile(99)
        p999 = percentile(99.9)
    }
}

extension Duration {
    /// The duration in microseconds, with fractions.
    var microseconds: Double {
        Double(components.seconds) * 1_000_000 + Double(components.attoseconds) / 1_000_000_000_000
    }
}
