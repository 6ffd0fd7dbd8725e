import Logging

/// Keeps a client's ``BrokerConnectivity`` current with a cheap metadata round trip: every
/// `interval` while the brokers are reachable, and every `retryInterval` while they are not, so that
/// a returning broker is noticed within about a second.
///
/// Losing the brokers is librdkafka's call ("all brokers down", on a refused or broken
/// connection), not the probe's: a probe that merely times out against a busy broker does not turn
/// a reachable cluster unreachable (under load that made `serve` refuse captures for nothing). While
/// the brokers are unreachable, each failed probe is recorded again, which keeps failing queued
/// records promptly.
final class ConnectivityProbe: Sendable {
    private let thread: PollingThread

    init(handle: KafkaHandle, interval: Duration = .seconds(5), retryInterval: Duration = .seconds(1)) {
        thread = PollingThread(name: "demosync-kafka-probe") { thread in
            let connectivity = handle.callbacks.connectivity
            do {
                try handle.probeBrokers(timeout: .seconds(2))
                connectivity.recordSuccess()
            } catch {
                if !connectivity.isReachable {
                    connectivity.recordFailure(reason: "\(error)")
                } else {
                    handle.callbacks.logger.debug("broker probe failed; librdkafka still reports them up", metadata: ["kafka.error": "\(error)"])
                }
            }
            thread.sleep(connectivity.isReachable ? interval : retryInterval)
        }
    }

    func stop() async {
        await thread.stop()
    }
}
