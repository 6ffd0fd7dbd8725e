import CoreMetrics
import Kafka

/// DemoSync's own version: the one place it is written. `demosync --version`, the start-up log
/// line of `serve` and `simulate` and the `demosync_build_info` gauge all read it.
public enum DemoSyncVersion {
    public static let current = "0.11.0"

    /// `demosync 0.11.0 (librdkafka 2.14.2)`.
    public static var description: String {
        "demosync \(current) (librdkafka \(LibrdkafkaVersion.runningDescription))"
    }

    /// Sets the `demosync_build_info{version, librdkafka}` gauge to 1, the usual way to show a
    /// version in Prometheus (join on it, or alert on a mixed fleet).
    public static func recordBuildInfo() {
        Gauge(label: "demosync_build_info", dimensions: [("version", current), ("librdkafka", LibrdkafkaVersion.runningDescription)]).record(1)
    }
}
