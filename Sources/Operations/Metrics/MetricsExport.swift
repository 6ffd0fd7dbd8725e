import CoreMetrics
import Metrics
import Prometheus
import Synchronization

/// The process's metrics, collected through swift-metrics into a Prometheus registry and
/// rendered in Prometheus's text format for `GET /metrics`.
public final class MetricsExport: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let refreshers = Mutex<[@Sendable () -> Void]>([])

    private static let installed = Mutex<MetricsExport?>(nil)

    /// Installs the Prometheus backend as the process's swift-metrics backend (once; later calls
    /// return the same export).
    public static func bootstrap() -> MetricsExport {
        installed.withLock { installed in
            if let installed { return installed }
            let registry = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: registry)
            // Captures take from about a millisecond to the timeout: buckets from 1 ms to 60 s.
            factory.defaultDurationHistogramBuckets = [
                .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2_500), .seconds(5),
                .seconds(10), .seconds(30), .seconds(60),
            ]
            MetricsSystem.bootstrap(factory)
            let export = MetricsExport(registry: registry)
            installed = export
            return export
        }
    }

    /// An export that is not the process's backend (tests).
    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
    }

    /// Runs `refresh` before every rendering, for gauges that are read rather than pushed
    /// (pending captures, requests in flight).
    public func refreshBeforeRendering(_ refresh: @escaping @Sendable () -> Void) {
        refreshers.withLock { $0.append(refresh) }
    }

    /// The metrics in Prometheus's text exposition format.
    public func render() -> [UInt8] {
        for refresh in refreshers.withLock({ $0 }) { refresh() }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16 * 1024)
        registry.emit(into: &buffer)
        return buffer
    }
}
