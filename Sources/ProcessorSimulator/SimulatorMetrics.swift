import CoreMetrics

/// What the simulator counts. Each request answered is counted once, by how: `answered` (a new
/// verdict), `repeated` (an earlier verdict for the same transaction), `expired` (not processed:
/// past its deadline) or `malformed` (skipped).
struct SimulatorMetrics: Sendable {
    let answered = Counter(label: "demosync_simulator_requests_total", dimensions: [("outcome", "answered")])
    let repeated = Counter(label: "demosync_simulator_requests_total", dimensions: [("outcome", "repeated")])
    let expired = Counter(label: "demosync_simulator_requests_total", dimensions: [("outcome", "expired")])
    let malformed = Counter(label: "demosync_simulator_requests_total", dimensions: [("outcome", "malformed")])
    let replyFailures = Counter(label: "demosync_simulator_reply_failures_total")
    let inFlight = Gauge(label: "demosync_simulator_in_flight")
}
