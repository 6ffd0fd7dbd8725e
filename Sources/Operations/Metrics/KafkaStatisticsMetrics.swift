import CoreMetrics
import Kafka

/// Records librdkafka's statistics as gauges: broker round trips, request queues, the producer's
/// message queue and consumer lag, labelled with the client's role.
public struct KafkaStatisticsMetrics: Sendable {
    private let client: String

    /// - Parameter client: the role of the Kafka client, such as `producer` or `reply-consumer`.
    public init(client: String) {
        self.client = client
    }

    public func record(_ statistics: KafkaStatistics) {
        Gauge(label: "demosync_kafka_queued_messages", dimensions: [("client", client)]).record(statistics.queuedMessages)
        Gauge(label: "demosync_kafka_requests_sent", dimensions: [("client", client)]).record(statistics.requestsSent)
        Gauge(label: "demosync_kafka_messages_sent", dimensions: [("client", client)]).record(statistics.messagesSent)
        for broker in statistics.brokers {
            let labels = [("client", client), ("broker", broker.name)]
            if let average = broker.roundTripAverage {
                Gauge(label: "demosync_kafka_broker_rtt_seconds", dimensions: labels + [("stat", "avg")]).record(average)
            }
            if let p99 = broker.roundTripP99 {
                Gauge(label: "demosync_kafka_broker_rtt_seconds", dimensions: labels + [("stat", "p99")]).record(p99)
            }
            Gauge(label: "demosync_kafka_broker_requests_waiting", dimensions: labels).record(broker.requestsWaitingToSend)
            Gauge(label: "demosync_kafka_broker_requests_in_flight", dimensions: labels).record(broker.requestsAwaitingResponse)
            Gauge(label: "demosync_kafka_broker_up", dimensions: labels).record(broker.state == "UP" ? 1 : 0)
        }
        for partition in statistics.partitions {
            guard let lag = partition.consumerLag else { continue }
            Gauge(
                label: "demosync_kafka_consumer_lag",
                dimensions: [("client", client), ("topic", partition.topic), ("partition", "\(partition.partition)")]
            ).record(lag)
        }
    }
}
