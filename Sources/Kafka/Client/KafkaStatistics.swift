import Foundation

/// The parts of librdkafka's statistics (emitted every `statistics.interval.ms` as JSON, see
/// librdkafka's STATISTICS.md) that an operator watches: broker round trips, queue depths and
/// consumer lag.
public struct KafkaStatistics: Sendable, Decodable {
    /// The client's handle name, such as `rdkafka#producer-1`.
    public let name: String
    /// `producer` or `consumer`.
    public let type: String
    /// Messages in the producer's queues, waiting to be sent or acknowledged.
    public let queuedMessages: Int
    /// Requests sent to the brokers, and messages produced, since the client started. Their
    /// ratio for a producer is its batching: messages per produce request (roughly: the requests
    /// include metadata and other calls).
    public let requestsSent: Int
    public let messagesSent: Int
    public let brokers: [Broker]
    public let partitions: [Partition]

    public struct Broker: Sendable, Decodable {
        /// `host:port/id`.
        public let name: String
        /// `UP`, `DOWN`, `CONNECT`, ...
        public let state: String
        /// Average and 99th percentile request round trip, in seconds, over the last window.
        public let roundTripAverage: Double?
        public let roundTripP99: Double?
        /// Requests waiting to be sent, and sent but not answered.
        public let requestsWaitingToSend: Int
        public let requestsAwaitingResponse: Int

        enum CodingKeys: String, CodingKey {
            case name, state, rtt
            case outbufCount = "outbuf_cnt"
            case waitrespCount = "waitresp_cnt"
        }

        private struct Window: Decodable {
            let avg: Double
            let p99: Double
            let cnt: Int
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            state = try container.decode(String.self, forKey: .state)
            let rtt = try container.decodeIfPresent(Window.self, forKey: .rtt)
            // Windows with no samples report zeros, which are not measurements.
            roundTripAverage = rtt.flatMap { $0.cnt > 0 ? $0.avg / 1_000_000 : nil }
            roundTripP99 = rtt.flatMap { $0.cnt > 0 ? $0.p99 / 1_000_000 : nil }
            requestsWaitingToSend = try container.decodeIfPresent(Int.self, forKey: .outbufCount) ?? 0
            requestsAwaitingResponse = try container.decodeIfPresent(Int.self, forKey: .waitrespCount) ?? 0
        }
    }

    public struct Partition: Sendable {
        public let topic: String
        public let partition: Int32
        /// Messages behind the partition's end, for a consumer; `nil` when unknown.
        public let consumerLag: Int64?
    }

    enum CodingKeys: String, CodingKey {
        case name, type, brokers, topics
        case messageCount = "msg_cnt"
        case requestsSent = "tx"
        case messagesSent = "txmsgs"
    }

    private struct TopicStatistics: Decodable {
        let topic: String
        let partitions: [String: PartitionStatistics]
    }

    private struct PartitionStatistics: Decodable {
        let partition: Int32
        let consumer_lag: Int64?
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        type = try container.decode(String.self, forKey: .type)
        queuedMessages = try container.decodeIfPresent(Int.self, forKey: .messageCount) ?? 0
        requestsSent = try container.decodeIfPresent(Int.self, forKey: .requestsSent) ?? 0
        messagesSent = try container.decodeIfPresent(Int.self, forKey: .messagesSent) ?? 0
        brokers = try container.decodeIfPresent([String: Broker].self, forKey: .brokers)?.values
            // librdkafka lists its internal pseudo-brokers (":0/internal") too.
            .filter { !$0.name.hasSuffix("/internal") }.sorted { $0.name < $1.name } ?? []
        let topics = try container.decodeIfPresent([String: TopicStatistics].self, forKey: .topics) ?? [:]
        partitions = topics.values.flatMap { topic in
            topic.partitions.values
                .filter { $0.partition >= 0 }  // -1 is librdkafka's unassigned-partition queue
                .map { Partition(topic: topic.topic, partition: $0.partition, consumerLag: $0.consumer_lag.flatMap { $0 >= 0 ? $0 : nil }) }
        }.sorted { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
    }

    /// Parses the JSON librdkafka emits.
    public static func parse(_ json: String) throws -> KafkaStatistics {
        try JSONDecoder().decode(KafkaStatistics.self, from: Data(json.utf8))
    }
}
