import CRdKafka

/// What became of one produced record: where the broker wrote it, or why it was not written.
public typealias DeliveryOutcome = Result<KafkaDeliveryReport, KafkaError>

/// Receives one record's delivery report. Runs on the producer's polling thread: it must return
/// quickly and never block.
public typealias DeliveryCallback = @Sendable (DeliveryOutcome) -> Void

/// The callback for one produced record, passed to librdkafka as the message opaque (retained)
/// and called exactly once: librdkafka emits exactly one delivery report for every record it
/// accepted, including records purged or timed out at shutdown.
final class DeliveryHandler: Sendable {
    private let callback: DeliveryCallback
    private let topic: String
    private let connectivity: BrokerConnectivity

    init(callback: @escaping DeliveryCallback, topic: String, connectivity: BrokerConnectivity) {
        self.callback = callback
        self.topic = topic
        self.connectivity = connectivity
    }

    /// Retains the handler for librdkafka; balanced by ``complete(_:)`` or ``abandon(_:)``.
    func retainedOpaque() -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(self).toOpaque()
    }

    /// Releases the handler of a record librdkafka refused outright (no report will come)
    /// without calling it: the refusal is the caller's to report.
    static func abandon(_ opaque: UnsafeMutableRawPointer) {
        Unmanaged<DeliveryHandler>.fromOpaque(opaque).release()
    }

    /// Handles a delivery report (librdkafka's `dr_msg_cb`, on the polling thread).
    static func complete(_ message: UnsafePointer<rd_kafka_message_t>) {
        guard let opaque = message.pointee._private else { return }
        let handler = Unmanaged<DeliveryHandler>.fromOpaque(opaque).takeRetainedValue()
        let code = message.pointee.err
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            handler.connectivity.recordSuccess()
            let offset = message.pointee.offset
            handler.callback(.success(KafkaDeliveryReport(topic: handler.topic, partition: message.pointee.partition, offset: offset >= 0 ? offset : nil)))
        } else {
            handler.callback(.failure(KafkaError(code, persistence: KafkaPersistenceStatus(rd_kafka_message_status(message)))))
        }
    }
}
