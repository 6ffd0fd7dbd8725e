import JSONText
import Kafka
import Payments

/// The reply record a processor produces: keyed by the correlation id, valued with the response
/// body, and headed with the correlation id too.
public enum PaymentReplyMessage {
    /// The record that carries `response` to `destination`.
    public static func record(
        _ response: CaptureResponse, to destination: ReplyDestination, idempotencyKey: String? = nil
    ) -> KafkaRecord {
        var headers = [
            KafkaHeader(name: PaymentHeaders.correlationID, value: response.correlationID.rawValue),
            KafkaHeader(name: PaymentHeaders.contentType, value: "application/json"),
        ]
        if let idempotencyKey {
            headers.append(KafkaHeader(name: PaymentHeaders.idempotencyKey, value: idempotencyKey))
        }
        if response.status == .error {
            headers.append(KafkaHeader(name: PaymentHeaders.processorStatus, value: "error"))
        }
        return KafkaRecord(
            topic: destination.topic, partition: destination.partition, key: response.correlationID.rawValue,
            value: response.jsonBytes, headers: headers)
    }

    /// The correlation id a reply is for: its key (which is what processors written against the
    /// original set), else its header, else the body's `correlation_id`.
    public static func correlationID(of message: KafkaMessage) -> CorrelationID? {
        if let key = message.keyString.flatMap(CorrelationID.init(validating:)) { return key }
        if let header = message.headers.lastValue(named: PaymentHeaders.correlationID).flatMap(CorrelationID.init(validating:)) {
            return header
        }
        return (try? WireObject(message.value))?.string("correlation_id").flatMap(CorrelationID.init(validating:))
    }

    /// Decodes a reply's body. The correlation id in the result is the record's (see
    /// ``correlationID(of:)``), whatever the body says; a `processor-status: error` header makes
    /// the status `error` whatever the body says.
    public static func decode(_ message: KafkaMessage, correlationID: CorrelationID) throws(WireFormatError) -> CaptureResponse {
        let processorFailed = message.headers.lastValue(named: PaymentHeaders.processorStatus)?.lowercased() == "error"
        do throws(WireFormatError) {
            // Only `status` is required: a processor that matches on the key need not repeat the
            // correlation id in the body.
            let body = try WireObject(message.value)
            guard let status = try body.optionalString("status") else { throw WireFormatError("the reply has no status") }
            return CaptureResponse(
                correlationID: correlationID, transactionID: try body.optionalString("transaction_id") ?? "",
                status: processorFailed ? .error : CaptureStatus(status), authorizationCode: try body.optionalString("authorization_code"),
                errorCode: try body.optionalString("error_code"), errorMessage: try body.optionalString("error_message"))
        } catch {
            guard processorFailed else { throw WireFormatError("the reply is not a capture response: \(error)") }
            // An error reply whose body is not a capture response still ends the wait, as an error.
            return CaptureResponse(
                correlationID: correlationID, transactionID: "", status: .error, errorCode: "processor_error",
                errorMessage: String(decoding: message.value.prefix(500), as: UTF8.self))
        }
    }

    /// The idempotency key echoed on a reply, if any.
    public static func idempotencyKey(of message: KafkaMessage) -> String? {
        message.headers.lastValue(named: PaymentHeaders.idempotencyKey)
    }
}
