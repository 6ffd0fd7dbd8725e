import Instrumentation
import Logging
import Operations
import ServiceLifecycle
import Synchronization

/// The log options every long-running command has, and the one-time set-up of logging, metrics
/// and tracing for the process.
enum LoggingOptions {
    enum Format: String, CaseIterable {
        case text
        case json
    }

    static let specifications: [OptionSpecification] = [
        .value(
            "log-level", "LEVEL", environment: ["DEMOSYNC_LOG_LEVEL", "LOG_LEVEL"], default: "info",
            help: "trace, debug, info, notice, warning, error or critical."),
        .value(
            "log-format", "text|json", environment: ["DEMOSYNC_LOG_FORMAT"], default: "text",
            help: "text for people, json for log shippers (one object per line)."),
        .value(
            "otlp-endpoint", "URL",
            help: "Export traces over OTLP to this collector (OTEL_EXPORTER_OTLP_ENDPOINT, e.g. http://localhost:4318). Off when neither is set."),
        .value("otlp-protocol", "PROTOCOL", help: "http/protobuf (the default) or http/json (OTEL_EXPORTER_OTLP_PROTOCOL)."),
        .value("otel-service-name", "NAME", help: "The traces' service.name (OTEL_SERVICE_NAME; default demosync-serve or demosync-simulate)."),
        .value(
            "otel-traces-sampler", "SAMPLER",
            help: "parentbased_always_on (the default), parentbased_traceidratio, always_on, always_off, ... (OTEL_TRACES_SAMPLER)."),
        .value("otel-traces-sampler-arg", "VALUE", help: "The sampler's argument, e.g. a ratio of 0.1 (OTEL_TRACES_SAMPLER_ARG)."),
    ]

    private static let bootstrapped = Mutex(false)

    /// Installs the log handler, the Prometheus metrics backend and the tracer (once per
    /// process) and returns a logger for `label`, the metrics export, and the trace exporter's
    /// service to run in the command's service group (`nil` when traces are not exported).
    static func bootstrap(
        _ label: String, serviceName: String, from options: ParsedOptions
    ) throws(UsageError) -> (Logger, MetricsExport, (any Service)?) {
        let level = try options.logLevel("log-level", default: .info)
        let format: Format = try options.choice("log-format", default: .text)
        let first = bootstrapped.withLock { done in
            defer { done = true }
            return !done
        }
        if first {
            LoggingSystem.bootstrap { label in
                switch format {
                case .text:
                    var handler = StreamLogHandler.standardError(label: label)
                    handler.logLevel = level
                    return handler
                case .json:
                    return JSONLogHandler(label: label, level: level)
                }
            }
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        let metrics = MetricsExport.bootstrap()
        var traceExport: (any Service)?
        if first {
            var flags: [String: String] = [:]
            for (flag, _) in TraceExport.flagVariables {
                if let value = options.string(flag) { flags[flag] = value }
            }
            do {
                traceExport = try TraceExport.bootstrap(defaultServiceName: serviceName, flags: flags, logger: logger)
            } catch {
                throw UsageError(error.description, command: options.command.name)
            }
        }
        return (logger, metrics, traceExport)
    }
}
