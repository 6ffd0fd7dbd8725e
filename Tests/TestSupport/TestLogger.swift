import Foundation
import Logging

/// Loggers for tests: quiet by default, louder with `DEMOSYNC_TEST_LOG_LEVEL=debug` (or any level)
/// when a failure needs explaining.
public enum TestLogger {
    public static func make(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = ProcessInfo.processInfo.environment["DEMOSYNC_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        return logger
    }
}
