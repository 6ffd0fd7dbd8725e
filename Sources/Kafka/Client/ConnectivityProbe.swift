/// Keeps a client's ``BrokerConnectivity`` current with a cheap metadata round trip: every
/// `interval` while the brokers are reachable, and every `retryInterval` while they are not, so that
/// a returning broker is noticed within about a second. Loss of the brokers is noticed sooner, from
/// librdkafka's own "all brokers down" error.
final class ConnectivityProbe: Sendable {
    private let thread: PollingThread

    init(handle: KafkaHandle, interval: Duration = .seconds(5), retryInterval: Duration = .seconds(1)) {
        thread = PollingThread(name: "demosync-kafka-probe") { thread in
            let connectivity = handle.callbacks.connectivity
            do {
                try handle.probeBrokers(timeout: .seconds(2))
                connectivity.recordSuccess()
            } catch {
                connectivity.recordFailure(reason: "\(error)")
            }
            thread.sleep(connectivity.isReachable ? interval : retryInterval)
        }
    }

    func stop() async {
        await thread.stop()
    }
}
