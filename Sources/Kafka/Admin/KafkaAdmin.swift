import CRdKafka

/// Administrative calls made through an existing client's connection. Every call runs on a
/// dedicated thread because librdkafka blocks for up to its timeout.
public struct KafkaAdmin: Sendable {
    let handle: KafkaHandle?

    private func openHandle() throws -> KafkaHandle {
        guard let handle, !handle.isDestroyed else { throw KafkaError.client("the client is closed", code: RD_KAFKA_RESP_ERR__DESTROY) }
        return handle
    }

    /// Creates the topics that are missing and returns the names of those it created.
    @discardableResult
    public func createTopicsIfMissing(_ topics: [KafkaTopicSpecification], timeout: Duration = .seconds(10)) async throws -> [String] {
        let handle = try openHandle()
        return try await runBlocking("demosync-kafka-admin") { try handle.createTopicsIfMissing(topics, timeout: timeout) }
    }

    /// The number of partitions of a topic, or `nil` when it does not exist.
    public func partitionCount(of topic: String, timeout: Duration = .seconds(5)) async throws -> Int? {
        let handle = try openHandle()
        return try await runBlocking("demosync-kafka-admin") { try handle.partitionCount(of: topic, timeout: timeout) }
    }

    /// The low and high watermark offsets of a partition.
    public func watermarks(of partition: KafkaTopicPartition, timeout: Duration = .seconds(5)) async throws -> (low: Int64, high: Int64) {
        let handle = try openHandle()
        return try await runBlocking("demosync-kafka-admin") { try handle.watermarks(of: partition, timeout: timeout) }
    }
}
