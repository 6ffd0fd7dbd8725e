import Foundation
import Kafka

/// The request record that `serve` produces and a processor consumes: keyed by the correlation
/// id, valued with the HTTP body plus `correlation_id`, exactly as the original did.
public struct PaymentRequestMessage: Sendable, Hashable, Codable {
    public var correlationID: CorrelationID
    public var transactionID: String
    public var amount: Amount
    public var currency: CurrencyCode
    public var metadata: [String: String]?

    public init(correlationID: CorrelationID, request: CaptureRequest) {
        self.correlationID = correlationID
        self.transactionID = request.transactionID
        self.amount = request.amount
        self.currency = request.currency
        self.metadata = request.metadata
    }

    enum CodingKeys: String, CodingKey {
        case correlationID = "correlation_id"
        case transactionID = "transaction_id"
        case amount, currency, metadata
    }

    /// The record to produce.
    public func record(topic: String) throws -> KafkaRecord {
        KafkaRecord(
            topic: topic, key: correlationID.rawValue, value: try WireJSON.encode(self),
            headers: [
                KafkaHeader(name: PaymentHeaders.correlationID, value: correlationID.rawValue),
                KafkaHeader(name: PaymentHeaders.contentType, value: "application/json"),
            ])
    }
}

/// What a processor needs from a request record, read leniently: a processor must answer
/// requests produced by the original Go service too (float amounts, arbitrary metadata values).
public struct ReceivedPaymentRequest: Sendable, Hashable {
    public let correlationID: CorrelationID
    public let transactionID: String

    /// Reads the correlation id from the key (as the original's processors did), else from the
    /// header, else from the body; and the transaction id from the body.
    public init(_ message: KafkaMessage) throws(WireFormatError) {
        struct Body: Decodable {
            let correlation_id: String?
            let transaction_id: String?
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: Data(message.value))
        } catch {
            throw WireFormatError("the request value is not a JSON object with string fields: \(error)")
        }
        let candidates = [message.keyString, message.headers.lastValue(named: PaymentHeaders.correlationID), body.correlation_id]
        guard let correlationID = candidates.lazy.compactMap({ $0.flatMap(CorrelationID.init(validating:)) }).first else {
            throw WireFormatError("the request carries no valid correlation id (key, header or body)")
        }
        guard let transactionID = body.transaction_id, !transactionID.isEmpty else {
            throw WireFormatError("the request has no transaction_id")
        }
        self.correlationID = correlationID
        self.transactionID = transactionID
    }
}
