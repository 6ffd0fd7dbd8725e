import CRdKafka

/// The version of the librdkafka that this process runs with (not the one it was compiled against).
public struct LibrdkafkaVersion: Sendable, Comparable, CustomStringConvertible {
    public let major: Int
    public let minor: Int
    public let revision: Int

    public init(major: Int, minor: Int, revision: Int) {
        self.major = major
        self.minor = minor
        self.revision = revision
    }

    /// The oldest librdkafka this wrapper accepts. 2.0.x mis-skips tagged fields in ApiVersion
    /// responses (fixed in 2.2.0) and cannot talk to brokers that send them.
    public static let minimumSupported = LibrdkafkaVersion(major: 2, minor: 2, revision: 0)

    /// The running library's version, from `rd_kafka_version()` (`0xMMmmrrxx`).
    public static var running: LibrdkafkaVersion {
        let packed = Int(rd_kafka_version())
        return LibrdkafkaVersion(major: (packed >> 24) & 0xFF, minor: (packed >> 16) & 0xFF, revision: (packed >> 8) & 0xFF)
    }

    /// The running library's own version string, for example `2.8.0`.
    public static var runningDescription: String { String(cString: rd_kafka_version_str()) }

    /// Throws when the running librdkafka is older than `minimum`, naming both versions.
    public static func requireRunning(atLeast minimum: LibrdkafkaVersion = .minimumSupported) throws {
        let running = Self.running
        guard running >= minimum else {
            throw KafkaError.client(
                "librdkafka \(runningDescription) is too old: DemoSync needs librdkafka \(minimum) or newer "
                    + "(run `make deps`, which builds a new enough one into .deps/librdkafka)"
            )
        }
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.major, lhs.minor, lhs.revision) < (rhs.major, rhs.minor, rhs.revision)
    }

    public var description: String { "\(major).\(minor).\(revision)" }
}
