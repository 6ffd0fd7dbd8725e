import CoreMetrics

/// What the simulator counts.
struct SimulatorMetrics: Sendable {
    let answered = Counter(label: "demosync_simulator_requests_total", dimensions: [("outcome", "answered")])
    let repeated = Counter(label: "demosync_simulator_requests_total", dimensions: [("outcome", "repeated")])
    let expired = Counter(label: "demosync_simulator_requests_total", dimensions: [("outcome", "expired")])
    let malformed = Counter(label: "demosync_simulator_requests_total", dimensions: [("outcome", "malformed")])
    let replyFailures = Counter(label: "demosync_simulator_reply_failures_total")
    let inFlight = Gauge(label: "demosync_simulator_in_flight")
}
