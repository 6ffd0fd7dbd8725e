import Foundation
import Kafka

/// The reply record a processor produces: keyed by the correlation id, valued with the response
/// body, and headed with the correlation id too.
public enum PaymentReplyMessage {
    /// The record that carries `response` to `topic`.
    public static func record(_ response: CaptureResponse, topic: String, partition: Int32? = nil) throws -> KafkaRecord {
        KafkaRecord(
            topic: topic, partition: partition, key: response.correlationID.rawValue, value: try WireJSON.encode(response),
            headers: [
                KafkaHeader(name: PaymentHeaders.correlationID, value: response.correlationID.rawValue),
                KafkaHeader(name: PaymentHeaders.contentType, value: "application/json"),
            ])
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
    /// ``correlationID(of:)``), whatever the body says.
    public static func decode(_ message: KafkaMessage, correlationID: CorrelationID) throws(WireFormatError) -> CaptureResponse {
        do {
            var response = try JSONDecoder().decode(CaptureResponse.self, from: Data(message.value))
            response.correlationID = correlationID
            return response
        } catch {
            throw WireFormatError("the reply is not a capture response: \(error)")
        }
    }
}
