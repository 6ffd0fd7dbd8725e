import CRdKafka
import Logging
import Synchronization

/// Receives a consumer group's partition assignments and revocations, on the polling thread, while
/// librdkafka waits for the answer (it must call `rd_kafka_assign` or its incremental variants).
protocol RebalanceHandler: AnyObject, Sendable {
    func rebalance(
        client: OpaquePointer, code: rd_kafka_resp_err_t, partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>
    )
}

/// The Swift side of librdkafka's callbacks for one client, reached through the configuration
/// opaque. librdkafka calls these on its own threads or inside our poll calls, never on the
/// cooperative pool, and they only hand off: they never block.
final class ClientCallbacks: Sendable {
    let logger: Logger
    let connectivity: BrokerConnectivity
    let statisticsHandler: (@Sendable (KafkaStatistics) -> Void)?
    let rebalanceHandler: (any RebalanceHandler)?
    private let fatalErrorHandlers = Mutex<[@Sendable () -> Void]>([])

    init(
        logger: Logger, connectivity: BrokerConnectivity = BrokerConnectivity(),
        statisticsHandler: (@Sendable (KafkaStatistics) -> Void)? = nil, rebalanceHandler: (any RebalanceHandler)? = nil
    ) {
        self.logger = logger
        self.connectivity = connectivity
        self.statisticsHandler = statisticsHandler
        self.rebalanceHandler = rebalanceHandler
    }

    /// Called, on librdkafka's thread, when the client reports a fatal error: it cannot be used
    /// any more and must be replaced.
    func onFatalError(_ handler: @escaping @Sendable () -> Void) {
        fatalErrorHandlers.withLock { $0.append(handler) }
    }

    static func from(_ opaque: UnsafeMutableRawPointer?) -> ClientCallbacks? {
        opaque.map { Unmanaged<ClientCallbacks>.fromOpaque($0).takeUnretainedValue() }
    }

    static func from(client: OpaquePointer?) -> ClientCallbacks? {
        client.flatMap { from(rd_kafka_opaque($0)) }
    }

    /// Installs every callback on a configuration. The opaque is unretained: the ``KafkaHandle``
    /// that owns the client keeps this object alive until after `rd_kafka_destroy`.
    func install(on configuration: OpaquePointer, role: KafkaConfiguration.Role) {
        rd_kafka_conf_set_opaque(configuration, Unmanaged.passUnretained(self).toOpaque())

        rd_kafka_conf_set_log_cb(configuration) { client, level, facility, message in
            guard let callbacks = ClientCallbacks.from(client: client) else { return }
            callbacks.log(level: level, facility: facility.map { String(cString: $0) } ?? "", message: message.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_error_cb(configuration) { _, code, reason, opaque in
            guard let callbacks = ClientCallbacks.from(opaque) else { return }
            callbacks.clientError(KafkaError(rd_kafka_resp_err_t(code), message: reason.map { String(cString: $0) }))
        }
        if statisticsHandler != nil {
            rd_kafka_conf_set_stats_cb(configuration) { _, json, length, opaque in
                if let callbacks = ClientCallbacks.from(opaque), let json {
                    let text = json.withMemoryRebound(to: UInt8.self, capacity: length) {
                        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                    }
                    callbacks.statistics(text)
                }
                return 0  // 0: librdkafka frees the JSON buffer
            }
        }
        switch role {
        case .producer:
            rd_kafka_conf_set_dr_msg_cb(configuration) { _, message, _ in
                guard let message else { return }
                DeliveryHandler.complete(message)
            }
        case .consumer:
            if rebalanceHandler != nil {
                rd_kafka_conf_set_rebalance_cb(configuration) { client, code, partitions, opaque in
                    guard let client, let partitions, let handler = ClientCallbacks.from(opaque)?.rebalanceHandler else { return }
                    handler.rebalance(client: client, code: code, partitions: partitions)
                }
            }
            rd_kafka_conf_set_offset_commit_cb(configuration) { _, code, offsets, opaque in
                guard code != RD_KAFKA_RESP_ERR_NO_ERROR, code != RD_KAFKA_RESP_ERR__NO_OFFSET,
                    let callbacks = ClientCallbacks.from(opaque)
                else { return }
                callbacks.logger.warning("offset commit failed", metadata: ["kafka.error": "\(KafkaError(code))"])
            }
        }
    }

    private func log(level: Int32, facility: String, message: String) {
        // librdkafka logs with syslog levels.
        let swiftLevel: Logger.Level =
            switch level {
            case ...2: .critical
            case 3: .error
            case 4: .warning
            case 5: .notice
            case 6: .info
            default: .debug
            }
        logger.log(level: swiftLevel, "\(message)", metadata: ["librdkafka.facility": "\(facility)"])
    }

    private func statistics(_ json: String) {
        do {
            statisticsHandler?(try KafkaStatistics.parse(json))
        } catch {
            logger.debug("unreadable librdkafka statistics", metadata: ["error": "\(error)"])
        }
    }

    private func clientError(_ error: KafkaError) {
        connectivity.record(error: error)
        // Most client errors are transient (a broker connection dropped and will be retried);
        // librdkafka raises them as errors all the same. Only _FATAL ends the client.
        let isFatal = error.code == RD_KAFKA_RESP_ERR__FATAL.rawValue
        logger.log(level: isFatal ? .critical : .warning, "Kafka client error", metadata: ["kafka.error": "\(error)"])
        if isFatal {
            for handler in fatalErrorHandlers.withLock({ $0 }) { handler() }
        }
    }
}
