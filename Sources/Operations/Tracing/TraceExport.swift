import Foundation
import Instrumentation
import Logging
import Metrics
import OTel
import ServiceLifecycle
import Synchronization
import Tracing

/// Exporting spans over OTLP with swift-otel, configured by the standard OpenTelemetry
/// variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_SERVICE_NAME`,
/// `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, `OTEL_BSP_*`, …) or the matching flags.
/// Off unless an endpoint or `OTEL_TRACES_EXPORTER` is given: then the ``PropagatingTracer``
/// carries traces on and records nothing.
public enum TraceExport {
    /// Why spans were not exported: the queue was full, or the collector did not take a batch.
    static let droppedQueueFull = Counter(label: "demosync_trace_spans_dropped_total", dimensions: [("reason", "queue_full")])
    static let droppedExportFailed = Counter(label: "demosync_trace_spans_dropped_total", dimensions: [("reason", "export_failed")])
    static let exportFailures = Counter(label: "demosync_trace_export_failures_total")

    private static let exporting = Atomic(false)

    /// Whether spans are exported: spans that exist only to be exported (not to carry a trace
    /// on) are started only then.
    public static var isOn: Bool { exporting.load(ordering: .relaxed) }

    /// Flags that stand for standard variables: a flag given wins over its variable.
    public static let flagVariables: [(flag: String, variable: String)] = [
        ("otlp-endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        ("otlp-protocol", "OTEL_EXPORTER_OTLP_PROTOCOL"),
        ("otel-service-name", "OTEL_SERVICE_NAME"),
        ("otel-traces-sampler", "OTEL_TRACES_SAMPLER"),
        ("otel-traces-sampler-arg", "OTEL_TRACES_SAMPLER_ARG"),
    ]

    public struct ConfigurationError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Installs the process's tracer (once): swift-otel's when exporting is configured, with
    /// the service to run in the command's service group, else the ``PropagatingTracer`` and
    /// `nil`. `flags` are the values of ``flagVariables``'s flags that were given.
    public static func bootstrap(defaultServiceName: String, flags: [String: String], logger: Logger) throws(ConfigurationError) -> (any Service)? {
        for (flag, variable) in flagVariables {
            if let value = flags[flag] { setenv(variable, value, 1) }
        }
        let environment = ProcessInfo.processInfo.environment
        guard try isConfigured(environment) else {
            InstrumentationSystem.bootstrap(PropagatingTracer())
            return nil
        }
        try validate(environment)
        var configuration = OTel.Configuration.default
        configuration.serviceName = defaultServiceName  // OTEL_SERVICE_NAME overrides it
        configuration.logs.enabled = false  // ours: swift-log to standard error
        configuration.metrics.enabled = false  // ours: Prometheus on /metrics
        configuration.traces.enabled = true
        // Shutting down must not wait 30 s on a collector that does not answer.
        configuration.traces.batchSpanProcessor.exportTimeout = .seconds(5)
        configuration.diagnosticLogLevel = .warning
        configuration.diagnosticLogger = .custom(
            Logger(label: "otel") { label in DiagnosticLogHandler(forwardingTo: logger, label: label) })
        do {
            let (tracer, service) = try OTel.makeTracingBackend(configuration: configuration)
            InstrumentationSystem.bootstrap(tracer)
            exporting.store(true, ordering: .relaxed)
            // Shown on /metrics from the start, at 0.
            _ = (droppedQueueFull, droppedExportFailed, exportFailures)
            logger.info(
                "exporting traces",
                metadata: [
                    "otel.endpoint": "\(environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? environment["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "default")",
                    "otel.protocol": "\(environment["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] ?? environment["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? "http/protobuf")",
                ])
            return service
        } catch {
            throw ConfigurationError(description: "invalid trace export configuration: \(error)")
        }
    }

    /// An OTLP endpoint, or `OTEL_TRACES_EXPORTER=otlp`, and the SDK not disabled.
    static func isConfigured(_ environment: [String: String]) throws(ConfigurationError) -> Bool {
        if environment["OTEL_SDK_DISABLED"]?.lowercased() == "true" { return false }
        if let exporter = environment["OTEL_TRACES_EXPORTER"]?.lowercased(), !exporter.isEmpty {
            switch exporter {
            case "none": return false
            case "otlp": return true
            default: throw ConfigurationError(description: "OTEL_TRACES_EXPORTER=\(exporter) is not supported: use otlp or none")
            }
        }
        return !(environment["OTEL_EXPORTER_OTLP_ENDPOINT"] ?? "").isEmpty || !(environment["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] ?? "").isEmpty
    }

    /// What swift-otel would stop the process on (`fatalError`) rather than report.
    static func validate(_ environment: [String: String]) throws(ConfigurationError) {
        let supportedProtocols = ["http/protobuf", "http/json"]
        for variable in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
            if let value = environment[variable], !value.isEmpty, !supportedProtocols.contains(value.lowercased()) {
                throw ConfigurationError(
                    description: "\(named(variable))=\(value) is not supported: use http/protobuf or http/json (gRPC is not built in)")
            }
        }
        let supportedSamplers = [
            "always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
        ]
        if let sampler = environment["OTEL_TRACES_SAMPLER"], !sampler.isEmpty, !supportedSamplers.contains(sampler.lowercased()) {
            throw ConfigurationError(
                description: "\(named("OTEL_TRACES_SAMPLER"))=\(sampler) is not supported: use one of \(supportedSamplers.joined(separator: ", "))")
        }
    }

    /// A variable, and the flag that stands for it.
    private static func named(_ variable: String) -> String {
        guard let flag = flagVariables.first(where: { $0.variable == variable })?.flag else { return variable }
        return "\(variable) (--\(flag))"
    }
}

/// swift-otel's own log: warnings are passed on to ours, and the spans it reports dropped (a
/// full queue, a batch the collector did not take) are counted.
struct DiagnosticLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?
    var logLevel: Logger.Level = .warning
    let forward: Logger
    let label: String

    init(forwardingTo logger: Logger, label: String) {
        forward = logger
        self.label = label
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields = metadata
        if let extra = event.metadata { fields.merge(extra) { _, new in new } }
        let message = event.message.description
        if message.hasPrefix("Spans were dropped") {
            TraceExport.droppedQueueFull.increment(by: Int(fields["dropped_count"].map { "\($0)" } ?? "") ?? 1)
        } else if message.hasPrefix("Failed to export batch") {
            TraceExport.exportFailures.increment()
            TraceExport.droppedExportFailed.increment(by: Int(fields["batch_size"].map { "\($0)" } ?? "") ?? 1)
        }
        fields["component"] = "otel"
        if let error = event.error { fields["error"] = "\(error)" }
        forward.log(level: event.level, event.message, metadata: fields)
    }
}
