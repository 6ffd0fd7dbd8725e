import Kafka
import Logging
import Payments
import Synchronization

/// The durable, shared memory of verdicts: a compacted topic keyed by transaction id.
///
/// A simulator reads it when the group gives it partitions, before it takes any request of
/// them: up to a ``KafkaReadBarrier`` placed at that moment (not up to the broker's high
/// watermark), so it knows every verdict given before, by any simulator. In between it reads
/// nothing: its consumer is held, so the journal costs the brokers no fetch while requests flow
/// (the verdicts this simulator gives, it remembers as it gives them).
final class VerdictJournal: Sendable {
    private struct Progress {
        /// The highest offset read, per partition.
        var highestRead: [KafkaTopicPartition: Int64] = [:]
        /// A catch-up in progress: the marker offsets still to reach, and who waits for them.
        var remaining: [KafkaTopicPartition: Int64] = [:]
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let topic: String
    private let producer: KafkaProducer
    private let consumer: KafkaConsumer
    private let logger: Logger
    private let progress = Mutex(Progress())
    /// Verdicts read so far.
    private let read = Atomic(0)

    init(topic: String, kafka: KafkaConfiguration, producer: KafkaProducer, logger: Logger) throws {
        self.topic = topic
        self.producer = producer
        self.logger = logger
        consumer = try KafkaConsumer(
            configuration: kafka, subscription: .allPartitions(of: [topic], from: .beginning),
            componentSettings: ["fetch.wait.max.ms": "500"], bufferCapacity: 10_000, logger: logger)
        consumer.hold()
    }

    /// Verdicts read from the topic so far.
    var verdictsRead: Int { read.load(ordering: .relaxed) }

    /// Journals a verdict; `onDelivery` runs once the broker acknowledged it (or refused it), on
    /// the producer's polling thread.
    /// `mayLinger`: see ``KafkaProducer/produce(_:mayLinger:onDelivery:)``.
    func record(_ verdict: Verdict, for transactionID: String, mayLinger: Bool, onDelivery: @escaping DeliveryCallback) throws(KafkaError) {
        try producer.produce(KafkaRecord(topic: topic, key: transactionID, value: verdict.jsonBytes), mayLinger: mayLinger, onDelivery: onDelivery)
    }

    /// Reads the journal into `learn` until the consumer is closed. Run once, beside the
    /// simulator's work; ``catchUp()`` decides when it reads.
    func follow(learn: @Sendable (Verdict, String) -> Void) async {
        for await batch in consumer.batches() {
            for message in batch {
                if KafkaReadBarrier.isMarker(message) {
                    // fall through to the barrier check
                } else if let transactionID = message.keyString, let verdict = Verdict(json: message.value) {
                    learn(verdict, transactionID)
                    read.add(1, ordering: .relaxed)
                } else {
                    logger.warning("unreadable verdict journal entry skipped", metadata: ["kafka.offset": "\(message.offset)"])
                }
                reached(message)
            }
        }
    }

    /// Returns once every verdict journaled before the call has been read (and learned), then
    /// stops reading until the next call. One call at a time.
    func catchUp() async {
        await consumer.waitUntilPositioned()
        guard let markers = await barrier() else { return }
        await withCheckedContinuation { continuation in
            let done = progress.withLock { progress in
                progress.remaining = markers.filter { partition, marker in (progress.highestRead[partition] ?? -1) < marker }
                guard !progress.remaining.isEmpty else { return true }
                progress.waiter = continuation
                return false
            }
            if done {
                continuation.resume()
            } else {
                consumer.release()
            }
        }
        consumer.hold()
    }

    private func reached(_ message: KafkaMessage) {
        let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
        let done: CheckedContinuation<Void, Never>? = progress.withLock { progress in
            progress.highestRead[partition] = max(progress.highestRead[partition] ?? -1, message.offset)
            guard let marker = progress.remaining[partition], message.offset >= marker else { return nil }
            progress.remaining[partition] = nil
            guard progress.remaining.isEmpty else { return nil }
            defer { progress.waiter = nil }
            return progress.waiter
        }
        done?.resume()
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
        let waiting = progress.withLock { progress in
            defer { progress.waiter = nil }
            return progress.waiter
        }
        waiting?.resume()
        await consumer.close()
    }
}
