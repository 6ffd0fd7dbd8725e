import CRdKafka

extension KafkaHandle {
    /// Runs one asynchronous admin operation and waits (up to `timeout`) for its result event.
    ///
    /// - Parameters:
    ///   - operation: the kind of operation, for its options.
    ///   - what: what is being done, for the error when no answer comes.
    ///   - start: starts the operation with the given options, its answer going to the given queue.
    ///   - read: reads the result event, which lives only during the call.
    func adminRequest<Result>(
        _ operation: rd_kafka_admin_op_t, timeout: Duration, what: String,
        start: (_ options: OpaquePointer?, _ queue: OpaquePointer?) -> Void,
        read: (_ event: OpaquePointer) throws -> Result
    ) throws -> Result {
        var errorText = [CChar](repeating: 0, count: 512)
        let queue = rd_kafka_queue_new(pointer)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(pointer, operation)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeout.milliseconds, &errorText, errorText.count)
        // Operations without a broker-side operation timeout refuse this one, harmlessly.
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeout.milliseconds, &errorText, errorText.count)
        start(options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeout.milliseconds + 1000) else {
            throw KafkaError.client("\(what) timed out", code: RD_KAFKA_RESP_ERR__TIMED_OUT)
        }
        defer { rd_kafka_event_destroy(event) }
        let eventCode = rd_kafka_event_error(event)
        guard eventCode == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError(eventCode, message: rd_kafka_event_error_string(event).map { String(cString: $0) })
        }
        return try read(event)
    }
}
