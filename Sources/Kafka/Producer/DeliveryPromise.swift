import CRdKafka

/// The waiter for one produced record's delivery report, passed to librdkafka as the message
/// opaque (retained) and resumed exactly once: librdkafka emits exactly one delivery report for
/// every record it accepted, including records purged or timed out at shutdown.
final class DeliveryPromise: Sendable {
    private let continuation: CheckedContinuation<KafkaDeliveryReport, any Error>
    private let topic: String
    private let connectivity: BrokerConnectivity

    init(continuation: CheckedContinuation<KafkaDeliveryReport, any Error>, topic: String, connectivity: BrokerConnectivity) {
        self.continuation = continuation
        self.topic = topic
        self.connectivity = connectivity
    }

    /// Retains the promise for librdkafka; balanced by ``complete(_:)`` or ``abandon(_:error:)``.
    func retainedOpaque() -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(self).toOpaque()
    }

    /// Called when librdkafka refused the record outright, so no delivery report will come.
    static func abandon(_ opaque: UnsafeMutableRawPointer, error: KafkaError) {
        Unmanaged<DeliveryPromise>.fromOpaque(opaque).takeRetainedValue().continuation.resume(throwing: error)
    }

    /// Handles a delivery report (called from librdkafka's `dr_msg_cb` on the polling thread).
    static func complete(_ message: UnsafePointer<rd_kafka_message_t>) {
        guard let opaque = message.pointee._private else { return }
        let promise = Unmanaged<DeliveryPromise>.fromOpaque(opaque).takeRetainedValue()
        let code = message.pointee.err
        if code == RD_KAFKA_RESP_ERR_NO_ERROR {
            promise.connectivity.recordSuccess()
            let offset = message.pointee.offset
            promise.continuation.resume(
                returning: KafkaDeliveryReport(
                    topic: promise.topic, partition: message.pointee.partition, offset: offset >= 0 ? offset : nil))
        } else {
            let status = KafkaPersistenceStatus(rd_kafka_message_status(message))
            promise.continuation.resume(throwing: KafkaError(code, persistence: status))
        }
    }
}
