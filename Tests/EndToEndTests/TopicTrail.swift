import Foundation
import Kafka
import TestSupport

/// Where records about some transactions are in the request, reply and verdict topics: the
/// evidence to tell a lost request from a lost reply when an end-to-end test fails.
enum TopicTrail {
    /// Reads each topic from offset 0 up to a read barrier placed now (the local broker's high
    /// watermark under-reports the end, so counting to it stops early), and lists the records
    /// that name one of `transactionIDs`, with each topic's record count.
    static func find(_ transactionIDs: [String], broker: LocalBroker, alsoIn extraTopics: [String] = []) async throws -> String {
        var lines: [String] = []
        let producer = try KafkaProducer(configuration: broker.configuration(), logger: TestLogger.make("trail"))
        for topic in ["payment-requests", "payment-responses", "payment-verdicts"] + extraTopics {
            let consumer = try KafkaConsumer(
                configuration: broker.configuration(), subscription: .allPartitions(of: [topic], from: .beginning),
                logger: TestLogger.make("trail"))
            await consumer.waitUntilPositioned()
            var unreached = try await KafkaReadBarrier.place(in: consumer.assignment, using: producer)
            var records = 0
            let stopper = Task {
                try await Task.sleep(for: .seconds(20))
                consumer.stopDelivering()
            }
            var iterator = consumer.messages.makeAsyncIterator()
            while !unreached.isEmpty, let message = await iterator.next() {
                let partition = KafkaTopicPartition(topic: topic, partition: message.partition)
                if let barrier = unreached[partition], message.offset >= barrier { unreached[partition] = nil }
                if KafkaReadBarrier.isMarker(message) { continue }
                records += 1
                let text = String(decoding: message.value, as: UTF8.self)
                for id in transactionIDs where text.contains("\"\(id)\"") || message.keyString == id {
                    let headers = message.headers.map { "\($0.name)=\($0.stringValue ?? "?")" }.joined(separator: ",")
                    lines.append("\(topic)[\(message.partition)]@\(message.offset) key=\(message.keyString ?? "-") \(headers) \(text)")
                }
            }
            stopper.cancel()
            lines.append("\(topic): \(records) records\(unreached.isEmpty ? "" : " (the read stopped short of the barrier in \(unreached.keys.sorted { $0.partition < $1.partition }))")")
            await consumer.close()
        }
        await producer.close()
        return lines.joined(separator: "\n")
    }
}
