import Foundation
import Kafka
import TestSupport

/// Where records about some transactions are in the request, reply and verdict topics: the
/// evidence to tell a lost request from a lost reply when an end-to-end test fails.
enum TopicTrail {
    static func find(_ transactionIDs: [String], broker: LocalBroker) async throws -> String {
        var lines: [String] = []
        for topic in ["payment-requests", "payment-responses", "payment-verdicts"] {
            let consumer = try KafkaConsumer(
                configuration: broker.configuration(), subscription: .allPartitions(of: [topic], from: .beginning),
                logger: TestLogger.make("trail"))
            await consumer.waitUntilPositioned()
            var total: Int64 = 0
            for partition in consumer.assignment {
                let marks = try await consumer.admin.watermarks(of: partition)
                total += marks.high - marks.low
            }
            var read: Int64 = 0
            var iterator = consumer.messages.makeAsyncIterator()
            while read < total, let message = await iterator.next() {
                read += 1
                let text = String(decoding: message.value, as: UTF8.self)
                for id in transactionIDs where text.contains("\"\(id)\"") || message.keyString == id {
                    let headers = message.headers.map { "\($0.name)=\($0.stringValue ?? "?")" }.joined(separator: ",")
                    lines.append("\(topic)[\(message.partition)]@\(message.offset) key=\(message.keyString ?? "-") \(headers) \(text)")
                }
            }
            lines.append("\(topic): \(total) records")
            await consumer.close()
        }
        return lines.joined(separator: "\n")
    }
}
