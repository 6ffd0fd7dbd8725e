import Foundation
import Kafka
import Logging
import Payments

/// The durable, shared half of the ``VerdictLedger``: a compacted topic keyed by transaction id.
///
/// Every simulator reads the whole topic from the beginning at start-up (and keeps reading it),
/// and does not take requests until it has caught up with what was there, so a restarted or
/// added simulator knows every earlier verdict.
final class VerdictJournal: Sendable {
    private let topic: String
    private let producer: KafkaProducer
    private let consumer: KafkaConsumer
    private let ledger: VerdictLedger
    private let logger: Logger

    init(topic: String, kafka: KafkaConfiguration, producer: KafkaProducer, ledger: VerdictLedger, logger: Logger) throws {
        self.topic = topic
        self.producer = producer
        self.ledger = ledger
        self.logger = logger
        consumer = try KafkaConsumer(
            configuration: kafka, subscription: .allPartitions(of: [topic], from: .beginning), bufferCapacity: 10_000, logger: logger)
    }

    /// Persists a verdict; returns once the broker acknowledged it.
    func record(_ verdict: Verdict, for transactionID: String) async throws {
        try await producer.send(KafkaRecord(topic: topic, key: transactionID, value: try WireJSON.encode(verdict)))
    }

    /// Reads the journal into the ledger until the consumer is closed. `caughtUp` is called once
    /// everything that was in the topic when reading started has been read.
    func follow(caughtUp: @escaping @Sendable () -> Void) async {
        await consumer.waitUntilPositioned()
        var remaining = await initialEnds()
        if remaining.isEmpty { caughtUp() }
        for await message in consumer.messages {
            if let transactionID = message.keyString, let verdict = try? JSONDecoder().decode(Verdict.self, from: Data(message.value)) {
                ledger.learn(verdict, for: transactionID)
            } else {
                logger.warning("unreadable verdict journal entry skipped", metadata: ["kafka.offset": "\(message.offset)"])
            }
            let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
            if let end = remaining[partition], message.offset + 1 >= end {
                remaining[partition] = nil
                if remaining.isEmpty { caughtUp() }
            }
        }
    }

    /// The end offset of every non-empty partition when reading starts.
    private func initialEnds() async -> [KafkaTopicPartition: Int64] {
        var ends: [KafkaTopicPartition: Int64] = [:]
        for partition in consumer.assignment {
            while true {
                do {
                    let marks = try await consumer.admin.watermarks(of: partition)
                    if marks.high > marks.low { ends[partition] = marks.high }
                    break
                } catch {
                    logger.warning("cannot read the verdict journal's offsets yet; retrying", metadata: ["kafka.error": "\(error)"])
                    try? await Task.sleep(for: .seconds(1))
                    if Task.isCancelled { return [:] }
                }
            }
        }
        return ends
    }

    func close() async {
        await consumer.close()
    }
}
