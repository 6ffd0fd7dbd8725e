import Kafka
import Logging
import Payments

/// The durable, shared memory of verdicts: a compacted topic keyed by transaction id.
///
/// Every simulator reads the whole topic from the beginning at start-up and does not take
/// requests until it has read everything written there before it started; then it keeps
/// reading, to learn the verdicts other simulators give. "Everything written before" is judged
/// by a ``KafkaReadBarrier``, not by the broker's high watermark.
///
/// The journal is not on the latency path (a verdict is journaled by the producer, which waits
/// for the acknowledgement, not for a reader), so its consumer waits up to 500 ms per fetch
/// rather than the local profile's few milliseconds: idle, it costs the broker two fetches a
/// second.
final class VerdictJournal: Sendable {
    private let topic: String
    private let producer: KafkaProducer
    private let consumer: KafkaConsumer
    private let logger: Logger

    init(topic: String, kafka: KafkaConfiguration, producer: KafkaProducer, logger: Logger) throws {
        self.topic = topic
        self.producer = producer
        self.logger = logger
        consumer = try KafkaConsumer(
            configuration: kafka, subscription: .allPartitions(of: [topic], from: .beginning),
            componentSettings: ["fetch.wait.max.ms": "500"], bufferCapacity: 10_000, logger: logger)
    }

    /// Journals a verdict; `onDelivery` runs once the broker acknowledged it (or refused it), on
    /// the producer's polling thread.
    func record(_ verdict: Verdict, for transactionID: String, onDelivery: @escaping DeliveryCallback) throws(KafkaError) {
        try producer.produce(KafkaRecord(topic: topic, key: transactionID, value: verdict.jsonBytes), onDelivery: onDelivery)
    }

    /// Reads the journal until the consumer is closed, passing each verdict to `learn`.
    /// `caughtUp` is called once everything written before this call has been read.
    func follow(learn: @Sendable (Verdict, String) -> Void, caughtUp: @Sendable () -> Void) async {
        await consumer.waitUntilPositioned()
        guard var remaining = await barrier() else { return }
        if remaining.isEmpty { caughtUp() }
        for await batch in consumer.batches() {
            for message in batch {
                let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
                if !remaining.isEmpty, let marker = remaining[partition], message.offset >= marker {
                    remaining[partition] = nil
                    if remaining.isEmpty { caughtUp() }
                }
                guard !KafkaReadBarrier.isMarker(message) else { continue }
                if let transactionID = message.keyString, let verdict = Verdict(json: message.value) {
                    learn(verdict, transactionID)
                } else {
                    logger.warning("unreadable verdict journal entry skipped", metadata: ["kafka.offset": "\(message.offset)"])
                }
            }
        }
    }

    /// Marks the end of every partition, retrying until the broker takes the markers; `nil` when
    /// cancelled first.
    private func barrier() async -> [KafkaTopicPartition: Int64]? {
        while !Task.isCancelled {
            do {
                return try await KafkaReadBarrier.place(in: consumer.assignment, using: producer)
            } catch {
                logger.warning("cannot mark the end of the verdict journal yet; retrying", metadata: ["kafka.error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
        return nil
    }

    func close() async {
        await consumer.close()
    }
}
