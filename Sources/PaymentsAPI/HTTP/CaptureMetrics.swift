import CoreMetrics
import Metrics

/// Per-outcome capture counters and the capture latency timer.
struct CaptureMetrics: Sendable {
    private let counters: [String: Counter]
    private let latency = Timer(label: "demosync_capture_duration_seconds")

    static let outcomes = ["approved", "declined", "timeout", "rejected", "unavailable", "error", "client_gone"]

    init() {
        counters = Dictionary(uniqueKeysWithValues: Self.outcomes.map {
            ($0, Counter(label: "demosync_captures_total", dimensions: [("outcome", $0)]))
        })
    }

    func record(_ outcome: CaptureOutcome, duration: Duration) {
        counters[outcome.label]?.increment()
        latency.recordNanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }
}
