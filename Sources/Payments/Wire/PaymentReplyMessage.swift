import Foundation
import Kafka

/// The reply record a processor produces: keyed by the correlation id, valued with the response
/// body, and headed with the correlation id too.
public enum PaymentReplyMessage {
    /// The record that carries `response` to `destination`.
    public static func record(
        _ response: CaptureResponse, to destination: ReplyDestination, idempotencyKey: String? = nil
    ) throws -> KafkaRecord {
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
        struct Body: Decodable { let correlation_id: String? }
        return (try? JSONDecoder().decode(Body.self, from: Data(message.value)))?.correlation_id.flatMap(CorrelationID.init(validating:))
    }

    /// Decodes a reply's body. The correlation id in the result is the record's (see
    /// ``correlationID(of:)``), whatever the body says; a `processor-status: error` header makes
    /// the status `error` whatever the body says.
    public static func decode(_ message: KafkaMessage, correlationID: CorrelationID) throws(WireFormatError) -> CaptureResponse {
        // Only `status` is required: a processor that matches on the key need not repeat the
        // correlation id in the body.
        struct Body: Decodable {
            let transaction_id: String?
            let status: CaptureStatus
            let authorization_code: String?
            let error_code: String?
            let error_message: String?
        }
        let processorFailed = message.headers.lastValue(named: PaymentHeaders.processorStatus)?.lowercased() == "error"
        do {
            let body = try JSONDecoder().decode(Body.self, from: Data(message.value))
            return CaptureResponse(
                correlationID: correlationID, transactionID: body.transaction_id ?? "", status: processorFailed ? .error : body.status,
                authorizationCode: body.authorization_code, errorCode: body.error_code, errorMessage: body.error_message)
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
