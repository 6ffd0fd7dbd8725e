import CoreMetrics
import Instrumentation
import Kafka
import Logging
import Payments
import PaymentsWire
import Synchronization
import Tracing

/// Produces capture requests to the request topic, for the ``CorrelationRegistry``.
///
/// Called on the registry's executor for each new attempt: it builds the record and hands it to
/// librdkafka without waiting. The delivery report arrives on the producer's polling thread and
/// only a failure is passed back; the answer itself comes from the reply consumer.
struct KafkaCaptureTransport: CaptureTransport {
    let producer: KafkaProducer
    let requestTopic: String
    /// Where requests ask for their replies; `nil` for the default reply topic (no headers).
    let replyTo: ReplyDestination?
    /// The request topic's partition count, once known (0 before).
    let requestPartitions: RequestPartitions
    /// This process's ``PaymentHeaders/senderID``, when it reads requests back; else `nil`.
    let senderID: String?
    /// Whether captures may be sent now, and if not why (readiness, draining).
    let admission: @Sendable () -> CaptureError?
    let produceFailures: Counter
    /// The bootstrapped tracer, looked up once (`InstrumentationSystem` locks on every use).
    let tracer: any Tracer
    let logger: Logger

    func send(
        _ capture: CaptureSubmission, attempt: CorrelationID, deadline: Int64, othersInProgress: Int,
        onFailure: @escaping @Sendable (SendFailure) -> Void
    ) throws(CaptureError) {
        if let refusal = admission() { throw refusal }
        let request = capture.request
        let partitions = requestPartitions.count
        let routing = RequestRouting(
            // By transaction id, which is what the processor deduplicates on: every request for one
            // transaction reaches the same partition, so the same processor, whatever its key.
            partition: partitions > 0 ? StablePartitioner.partition(for: request.transactionID, count: partitions) : nil,
            deadlineMilliseconds: deadline, replyTo: replyTo, idempotencyKey: capture.key, senderID: senderID)
        var record = PaymentRequestMessage(correlationID: attempt, request: request).record(topic: requestTopic, routing: routing)
        // The request carries the trace on to the processor, as a child of the HTTP request's span.
        let span = tracer.startSpan("produce capture request", context: capture.traceContext, ofKind: .producer)
        tracer.inject(span.context, into: &record.headers, using: KafkaHeadersInjector())
        let logger = self.logger
        let produceFailures = self.produceFailures
        do throws(KafkaError) {
            try producer.produce(record, mayLinger: RecordBatching.mayLinger(othersInProgress: othersInProgress)) { outcome in
                defer { span.end() }
                guard case .failure(let error) = outcome else { return }
                produceFailures.increment()
                if error.isDefinitelyNotDelivered {
                    // The client hears 503; if its wait already ended, this is the only trace of why.
                    logger.warning("request not delivered", metadata: ["correlation_id": "\(attempt)", "kafka.error": "\(error)"])
                } else {
                    // The record may be in the topic: its reply may still come, so the capture
                    // keeps waiting rather than tell the client a capture that may happen did not.
                    logger.warning(
                        "request delivery uncertain; still waiting for a reply",
                        metadata: ["correlation_id": "\(attempt)", "kafka.error": "\(error)"])
                }
                onFailure(SendFailure(reason: "the request could not be sent to Kafka: \(error.message)", certainlyNotSent: error.isDefinitelyNotDelivered))
            }
        } catch {
            span.end()
            produceFailures.increment()
            logger.warning("request not delivered", metadata: ["correlation_id": "\(attempt)", "kafka.error": "\(error)"])
            throw .unavailable(reason: "the request could not be sent to Kafka: \(error.message)")
        }
    }
}

/// The request topic's partition count, shared between the provisioner that learns it and the
/// transport that spreads requests over it.
final class RequestPartitions: Sendable {
    private let value = Atomic(0)

    /// 0 until known.
    var count: Int { value.load(ordering: .relaxed) }

    func update(_ count: Int) {
        value.store(count, ordering: .relaxed)
    }
}
