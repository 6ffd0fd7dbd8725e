import CRdKafka
import Logging
import Synchronization

/// Owns one `rd_kafka_t` and the object its callbacks reach through the configuration opaque.
///
/// `@unchecked Sendable` because librdkafka documents `rd_kafka_t` as thread-safe: every public
/// function may be called from any thread concurrently. The pointer is immutable for the life of
/// this object and destroyed only in `deinit`, when no other reference can use it.
final class KafkaHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    let callbacks: ClientCallbacks
    private let destroyed = Atomic(false)

    init(role: KafkaConfiguration.Role, properties: [String: String], callbacks: ClientCallbacks) throws {
        let configuration = rd_kafka_conf_new()!
        do {
            for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
                try Self.set(key, value, on: configuration)
            }
        } catch {
            rd_kafka_conf_destroy(configuration)
            throw error
        }
        callbacks.install(on: configuration, role: role)

        var errorText = [CChar](repeating: 0, count: 512)
        let kind = role == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER
        guard let pointer = rd_kafka_new(kind, configuration, &errorText, errorText.count) else {
            rd_kafka_conf_destroy(configuration)  // rd_kafka_new frees it only on success
            throw KafkaError.client("cannot create the Kafka client: \(errorText.nulTerminatedText)", code: RD_KAFKA_RESP_ERR__INVALID_ARG)
        }
        self.pointer = pointer
        self.callbacks = callbacks
    }

    private static func set(_ key: String, _ value: String, on configuration: OpaquePointer) throws {
        var errorText = [CChar](repeating: 0, count: 512)
        let result = rd_kafka_conf_set(configuration, key, value, &errorText, errorText.count)
        guard result == RD_KAFKA_CONF_OK else {
            // librdkafka's explanation quotes the value; a mistyped password must not reach a log.
            let explanation = isSecret(key) ? "invalid value (not shown: the property holds a secret)" : errorText.nulTerminatedText
            throw KafkaError.client("invalid librdkafka property \(key): \(explanation)", code: RD_KAFKA_RESP_ERR__INVALID_ARG)
        }
    }

    /// Whether a property holds a credential (`sasl.password`, `ssl.key.password`, OAuth
    /// secrets...), whose value must never appear in errors or logs.
    static func isSecret(_ key: String) -> Bool {
        let lowered = key.lowercased()
        return ["password", "secret", "token", "sasl.oauthbearer.config", "ssl.key.pem", "ssl_key"].contains { lowered.contains($0) }
    }

    /// The client's name as librdkafka knows it (`rdkafka#producer-1`), for logs.
    var name: String { String(cString: rd_kafka_name(pointer)) }

    var isDestroyed: Bool { destroyed.load(ordering: .acquiring) }

    /// Destroys the client. It blocks while librdkafka joins its threads, so callers run it on a
    /// dedicated thread, after making sure nothing else uses the handle any more.
    ///
    /// - Parameter leavingGroup: for a consumer, whether to close it first (revoke, commit, leave
    ///   the group), which waits up to `session.timeout.ms` for an unreachable coordinator.
    /// - Returns: whether this call destroyed it (false when it was already destroyed).
    @discardableResult
    func destroy(leavingGroup: Bool = true) -> Bool {
        guard destroyed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return false }
        rd_kafka_destroy_flags(pointer, leavingGroup ? 0 : RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE)
        return true
    }

    deinit {
        destroy()
    }
}
