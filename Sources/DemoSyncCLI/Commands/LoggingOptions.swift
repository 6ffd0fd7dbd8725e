import Instrumentation
import Logging
import Operations
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
            help: "trace, debug, info, notice, warning, error or critical. Spans are logged at debug."),
        .value(
            "log-format", "text|json", environment: ["DEMOSYNC_LOG_FORMAT"], default: "text",
            help: "text for people, json for log shippers (one object per line)."),
    ]

    private static let bootstrapped = Mutex(false)

    /// Installs the log handler, the Prometheus metrics backend and the W3C tracer (once per
    /// process) and returns a logger for `label` with the metrics export.
    static func bootstrap(_ label: String, from options: ParsedOptions) throws(UsageError) -> (Logger, MetricsExport) {
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
        if first {
            InstrumentationSystem.bootstrap(W3CTracer(logger: logger))
        }
        return (logger, metrics)
    }
}
