import CRdKafka

#if canImport(Glibc)
import Glibc
#endif

/// Sends a topic's records to one partition at a time, moving to the next one every
/// ``windowMilliseconds``, whatever their keys: the sticky partitioning Kafka clients use for
/// unkeyed records (KIP-480), for topics where a record's partition carries no meaning.
///
/// Records produced together then share one batch instead of one per partition. Every broker
/// pays per batch it stores and serves, the local one per batch it already holds too; measured on
/// the local broker, replies spread this way cut its CPU per capture by about a fifth (see
/// docs/benchmarks.md). Use it only where every reader reads every partition: a reader that owns
/// some partitions, or relies on one key always landing in one partition, would miss records.
enum StickyPartitioning {
    /// How long records keep to one partition: librdkafka's `sticky.partitioning.linger.ms` default.
    static let windowMilliseconds: UInt64 = 10

    /// The partition for a record produced at `milliseconds` on a monotonic clock, among `count`
    /// partitions, skipping those `isAvailable` says have no leader; `RD_KAFKA_PARTITION_UA` when
    /// there are none.
    static func partition(atMilliseconds milliseconds: UInt64, count: Int32, isAvailable: (Int32) -> Bool) -> Int32 {
        guard count > 0 else { return RD_KAFKA_PARTITION_UA }
        let first = Int32(truncatingIfNeeded: (milliseconds / windowMilliseconds) % UInt64(count))
        for step in 0..<count {
            let candidate = (first + step) % count
            if isAvailable(candidate) { return candidate }
        }
        return first
    }

    /// A handle on `topic` for `client` whose partitioner is this one and whose other settings are
    /// the client's defaults; `nil` if librdkafka refuses it. Created before any record is
    /// produced to the topic, it is the handle librdkafka then uses for the topic's records by
    /// name (it keeps the first configuration a topic is created with). Keep it until the client
    /// is destroyed.
    static func topicHandle(on client: OpaquePointer, topic: String) -> OpaquePointer? {
        guard let settings = rd_kafka_default_topic_conf_dup(client) else { return nil }
        rd_kafka_topic_conf_set_partitioner_cb(settings, stickyPartitioner)
        return rd_kafka_topic_new(client, topic, settings)  // takes `settings`, even on failure
    }
}

/// The partitioner librdkafka calls, on any thread: reads the coarse monotonic clock (a few ms
/// of resolution, plenty for a 10 ms window, and no system call).
private func stickyPartitioner(
    topic: OpaquePointer?, key: UnsafeRawPointer?, keyLength: Int, partitionCount: Int32,
    topicOpaque: UnsafeMutableRawPointer?, messageOpaque: UnsafeMutableRawPointer?
) -> Int32 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC_COARSE, &now)
    let milliseconds = UInt64(now.tv_sec) &* 1000 &+ UInt64(now.tv_nsec / 1_000_000)
    return StickyPartitioning.partition(atMilliseconds: milliseconds, count: partitionCount) { partition in
        rd_kafka_topic_partition_available(topic, partition) == 1
    }
}
