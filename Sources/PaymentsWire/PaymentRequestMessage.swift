import JSONText
import Kafka
import Payments

/// The request record that `serve` produces and a processor consumes: keyed by the correlation
/// id, valued with the HTTP body plus `correlation_id`, exactly as the original did, with
/// optional headers for what the original could not say (see ``PaymentHeaders``).
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
    public func record(topic: String, routing: RequestRouting = RequestRouting()) -> KafkaRecord {
        var headers = [
            KafkaHeader(name: PaymentHeaders.correlationID, value: correlationID.rawValue),
            KafkaHeader(name: PaymentHeaders.contentType, value: "application/json"),
        ]
        if let deadline = routing.deadlineMilliseconds {
            headers.append(KafkaHeader(name: PaymentHeaders.deadline, value: String(deadline)))
        }
        if let replyTo = routing.replyTo {
            headers.append(KafkaHeader(name: PaymentHeaders.replyTopic, value: replyTo.topic))
            if let partition = replyTo.partition {
                headers.append(KafkaHeader(name: PaymentHeaders.replyPartition, value: String(partition)))
            }
        }
        if let key = routing.idempotencyKey {
            headers.append(KafkaHeader(name: PaymentHeaders.idempotencyKey, value: key))
        }
        if let sender = routing.senderID {
            headers.append(KafkaHeader(name: PaymentHeaders.senderID, value: sender))
        }
        return KafkaRecord(
            topic: topic, partition: routing.partition, key: correlationID.rawValue, value: jsonBytes, headers: headers)
    }
}

/// What a processor needs from a request record, read leniently: a processor must answer
/// requests produced by the original Go service too (float amounts, arbitrary metadata values,
/// no headers).
public struct ReceivedPaymentRequest: Sendable, Hashable {
    public let correlationID: CorrelationID
    public let transactionID: String
    /// From the `deadline` header, when present and well-formed.
    public let deadlineMilliseconds: Int64?
    /// From the `reply-topic` and `reply-partition` headers; `nil` means the default topic.
    public let replyTo: ReplyDestination?
    public let idempotencyKey: String?

    /// Reads the correlation id from the key (as the original's processors did), else from the
    /// header, else from the body; and the transaction id from the body.
    public init(_ message: KafkaMessage) throws(WireFormatError) {
        let body: WireObject
        do throws(WireFormatError) {
            body = try WireObject(message.value)
        } catch {
            throw WireFormatError("the request value is not a JSON object: \(error)")
        }
        let candidates = [message.keyString, message.headers.lastValue(named: PaymentHeaders.correlationID), body.string("correlation_id")]
        guard let correlationID = candidates.lazy.compactMap({ $0.flatMap(CorrelationID.init(validating:)) }).first else {
            throw WireFormatError("the request carries no valid correlation id (key, header or body)")
        }
        guard let transactionID = body.string("transaction_id"), !transactionID.isEmpty else {
            throw WireFormatError("the request has no transaction_id")
        }
        self.correlationID = correlationID
        self.transactionID = transactionID
        deadlineMilliseconds = message.headers.lastValue(named: PaymentHeaders.deadline).flatMap { Int64($0) }
        replyTo = message.headers.lastValue(named: PaymentHeaders.replyTopic).flatMap { topic in
            topic.isEmpty
                ? nil
                : ReplyDestination(topic: topic, partition: message.headers.lastValue(named: PaymentHeaders.replyPartition).flatMap { Int32($0) })
        }
        idempotencyKey = message.headers.lastValue(named: PaymentHeaders.idempotencyKey)
    }
}

extension PaymentRequestMessage: WireEncodable {
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("amount", number: amount.description)
        writer.member("correlation_id", correlationID.rawValue)
        writer.member("currency", currency.code)
        if let metadata {
            writer.key("metadata")
            writer.beginObject()
            for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
                writer.member(key, value)
            }
            writer.endObject()
        }
        writer.member("transaction_id", transactionID)
        writer.endObject()
    }
}

extension ObservedRequest {
    /// What a request record says about its capture, as every `serve` replica reads it back: its
    /// idempotency name (the `idempotency-key` header, else the transaction id), the fingerprint
    /// of its body and its correlation id. `nil` for a record that is not a readable request
    /// (another producer's, or a barrier marker).
    public init?(_ message: KafkaMessage) {
        guard !KafkaReadBarrier.isMarker(message),
            let request = try? CaptureRequestDecoder.decode(message.value),
            let correlationID = message.keyString.flatMap(CorrelationID.init(validating:))
                ?? message.headers.lastValue(named: PaymentHeaders.correlationID).flatMap(CorrelationID.init(validating:))
        else { return nil }
        self.init(
            key: message.headers.lastValue(named: PaymentHeaders.idempotencyKey) ?? request.transactionID,
            fingerprint: CaptureFingerprint.of(request), correlationID: correlationID,
            producedAtMilliseconds: message.timestampMilliseconds)
    }
}
