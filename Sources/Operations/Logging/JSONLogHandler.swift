import Foundation
import JSONText
import Logging
import Synchronization

/// A swift-log handler that writes one JSON object per line to standard error: `timestamp`,
/// `level`, `label`, `message`, `source`, then the metadata as top-level string fields. For log
/// shippers that parse JSON lines.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { $1 } }
        if let extra = event.metadata { fields.merge(extra) { $1 } }
        var line = "{\"timestamp\":" + JSONWriter.quoted(Self.timestamp())
        line += ",\"level\":" + JSONWriter.quoted(event.level.rawValue)
        line += ",\"label\":" + JSONWriter.quoted(label)
        line += ",\"message\":" + JSONWriter.quoted(event.message.description)
        line += ",\"source\":" + JSONWriter.quoted(event.source)
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) where !Self.reserved.contains(key) {
            line += "," + JSONWriter.quoted(key) + ":" + JSONWriter.quoted("\(value)")
        }
        line += "}\n"
        StandardError.write(line)
    }

    private static let reserved: Set<String> = ["timestamp", "level", "label", "message", "source"]

    private static func timestamp() -> String {
        Date.now.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}

/// Serialises writes to standard error so that concurrent log lines never interleave.
enum StandardError {
    private static let lock = Mutex(())

    static func write(_ text: String) {
        lock.withLock { _ in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }
}
