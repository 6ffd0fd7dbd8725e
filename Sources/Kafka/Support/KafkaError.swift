import CRdKafka

/// An error reported by librdkafka, or by this wrapper on librdkafka's behalf.
///
/// `code` is librdkafka's `rd_kafka_resp_err_t` value (negative codes are local to the client,
/// positive ones come from the broker), `name` its symbolic name (`_MSG_TIMED_OUT`,
/// `TOPIC_ALREADY_EXISTS`, ...) and `message` the human-readable text.
public struct KafkaError: Error, Sendable, Hashable, CustomStringConvertible {
    public let code: Int32
    public let name: String
    public let message: String

    public init(code: Int32, name: String, message: String, persistence: KafkaPersistenceStatus? = nil) {
        self.code = code
        self.name = name
        self.message = message
        self.persistence = persistence
    }

    init(_ code: rd_kafka_resp_err_t, message: String? = nil, persistence: KafkaPersistenceStatus? = nil) {
        self.code = code.rawValue
        self.name = String(cString: rd_kafka_err2name(code))
        self.message = message ?? String(cString: rd_kafka_err2str(code))
        self.persistence = persistence
    }

    /// Takes ownership of an `rd_kafka_error_t` and destroys it.
    init(consuming error: OpaquePointer) {
        defer { rd_kafka_error_destroy(error) }
        self.init(rd_kafka_error_code(error), message: String(cString: rd_kafka_error_string(error)))
    }

    /// The broker does not have this topic.
    public static func unknownTopic(_ name: String) -> KafkaError {
        KafkaError(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, message: "topic \(name) does not exist")
    }

    /// An error raised by this wrapper rather than by librdkafka (configuration, state, timeouts).
    static func client(_ message: String, code: rd_kafka_resp_err_t = RD_KAFKA_RESP_ERR__FAIL) -> KafkaError {
        KafkaError(code, message: message)
    }

    public var description: String { "\(message) (\(name), code \(code))" }

    /// For a failed send: whether the record may still have reached the broker. `nil` for errors
    /// that are not about a record.
    public var persistence: KafkaPersistenceStatus?

    /// True when the record certainly did not reach the broker, so the caller may say
    /// "unavailable, try again" rather than "outcome unknown".
    public var isDefinitelyNotDelivered: Bool { persistence == .notPersisted }

    /// The destination topic or partition does not exist.
    public var isUnknownDestination: Bool {
        [RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART]
            .contains { $0.rawValue == code }
    }

    /// The record could not be queued because the local producer queue is full.
    public var isQueueFull: Bool { code == RD_KAFKA_RESP_ERR__QUEUE_FULL.rawValue }

    /// The client has been closed.
    public var isClosed: Bool { code == RD_KAFKA_RESP_ERR__DESTROY.rawValue }
}

/// What librdkafka knows about whether a record reached the broker (`rd_kafka_msg_status_t`).
public enum KafkaPersistenceStatus: Sendable, Hashable {
    /// Never sent, or the broker certainly rejected it: safe to report as not written.
    case notPersisted
    /// Sent but not acknowledged (timeout, connection lost): it may be in the log.
    case possiblyPersisted
    /// Acknowledged by the broker.
    case persisted

    init(_ status: rd_kafka_msg_status_t) {
        switch status {
        case RD_KAFKA_MSG_STATUS_NOT_PERSISTED: self = .notPersisted
        case RD_KAFKA_MSG_STATUS_PERSISTED: self = .persisted
        default: self = .possiblyPersisted
        }
    }
}

extension Array where Element == CChar {
    /// The text librdkafka wrote into an error buffer, up to its terminating NUL.
    var nulTerminatedText: String {
        String(decoding: prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
