import CRdKafka
import Synchronization

/// Whether a client can currently reach the brokers, as far as librdkafka has told us.
///
/// Set down at once when librdkafka reports that all brokers are down, and up again by the next
/// successful round trip (a metadata probe or a delivered record). Starts out `unknown`, which
/// counts as unreachable: nothing is known to work yet.
public final class BrokerConnectivity: Sendable {
    public enum State: Sendable, Hashable {
        case unknown
        case reachable
        case unreachable(reason: String)
    }

    private let state = Mutex(State.unknown)
    /// Mirrors `state == .reachable`, so that the success every delivery report records costs
    /// one atomic load while nothing changes.
    private let reachable = Atomic(false)
    private let changeHandlers = Mutex<[@Sendable (Bool) -> Void]>([])
    /// The last error librdkafka gave for a broker connection (refused, TLS handshake, SASL
    /// authentication...), kept until the brokers are reachable again and added to the reason
    /// of every failure recorded meanwhile: "1/1 brokers are down" or a timed-out probe does not
    /// say why, and librdkafka reports a connection error only once while it repeats.
    private let lastConnectionError = Mutex<String?>(nil)
    private let failureHandlers = Mutex<[@Sendable () -> Void]>([])

    public init() {}

    public var current: State { state.withLock { $0 } }

    public var isReachable: Bool { reachable.load(ordering: .relaxed) }

    /// Called with the new value whenever reachability changes, on the thread that noticed it.
    public func onChange(_ handler: @escaping @Sendable (_ reachable: Bool) -> Void) {
        changeHandlers.withLock { $0.append(handler) }
    }

    /// Reachability as it changes, starting with the current value.
    public func changes() -> AsyncStream<Bool> {
        let (stream, continuation) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(1))
        continuation.yield(isReachable)
        onChange { continuation.yield($0) }
        return stream
    }

    /// Called every time a failure to reach the brokers is recorded (not only on the change),
    /// on the thread that noticed it.
    func onFailure(_ handler: @escaping @Sendable () -> Void) {
        failureHandlers.withLock { $0.append(handler) }
    }

    func recordSuccess() {
        guard !reachable.load(ordering: .relaxed) else { return }
        lastConnectionError.withLock { $0 = nil }
        update(.reachable)
    }

    func recordFailure(reason: String) {
        let cause = lastConnectionError.withLock { $0 }
        update(.unreachable(reason: cause.map { "\(reason); last connection error: \($0)" } ?? reason))
        for handler in failureHandlers.withLock({ $0 }) { handler() }
    }

    func record(error: KafkaError) {
        if error.code == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN.rawValue || error.code == RD_KAFKA_RESP_ERR__FATAL.rawValue {
            recordFailure(reason: error.message)
        } else if Self.connectionErrors.contains(error.code) {
            lastConnectionError.withLock { $0 = error.message }
        }
    }

    /// The errors that say why a broker connection failed.
    private static let connectionErrors = Set(
        [RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__SSL, RD_KAFKA_RESP_ERR__AUTHENTICATION, RD_KAFKA_RESP_ERR__RESOLVE].map(\.rawValue))

    private func update(_ newState: State) {
        let changed = state.withLock { state -> Bool? in
            let wasReachable = state == .reachable
            state = newState
            let isReachable = newState == .reachable
            reachable.store(isReachable, ordering: .relaxed)
            return wasReachable == isReachable ? nil : isReachable
        }
        if let reachable = changed {
            for handler in changeHandlers.withLock({ $0 }) { handler(reachable) }
        }
    }
}
