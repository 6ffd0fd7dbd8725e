import CoreMetrics

/// Counters the gateway keeps (exported through whatever swift-metrics backend is installed).
struct GatewayMetrics: Sendable {
    let produceFailures = Counter(label: "demosync_produce_failures_total")
    let lateReplies = Counter(label: "demosync_replies_late_total")
    let unmatchedReplies = Counter(label: "demosync_replies_unmatched_total")
    let unparseableReplies = Counter(label: "demosync_replies_unparseable_total")
    let pending = Gauge(label: "demosync_pending_captures")
}
