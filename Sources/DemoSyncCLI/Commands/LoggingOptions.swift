import Logging
import Synchronization

/// The log options every long-running command has, and the one-time logging set-up.
enum LoggingOptions {
    static let specifications: [OptionSpecification] = [
        .value(
            "log-level", "LEVEL", environment: ["DEMOSYNC_LOG_LEVEL", "LOG_LEVEL"], default: "info",
            help: "trace, debug, info, notice, warning, error or critical.")
    ]

    private static let bootstrapped = Mutex(false)

    /// Installs the log handler (once per process) and returns a logger for `label`.
    static func makeLogger(_ label: String, from options: ParsedOptions) throws(UsageError) -> Logger {
        let level = try options.logLevel("log-level", default: .info)
        bootstrapped.withLock { done in
            guard !done else { return }
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            done = true
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
