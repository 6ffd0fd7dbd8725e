import Kafka
import Synchronization

/// Whether a replica has read what the request and reply topics held when it started: until it
/// has, it does not know every capture other replicas (or it, before a restart) sent, so it is
/// not ready and takes no capture.
///
/// The targets are the offsets of the last records the broker reported per partition (its high
/// watermark − 1). Brokers that under-report the high watermark after multi-record batches
/// (Tansu 0.6 reports the last batch's first offset + 1) make the target the first record of the
/// last batch; the rest of that batch comes in the same fetch response, so in the same or the
/// next delivered batch.
final class HistoryLoad: Sendable {
    /// What was read by the time the history was loaded.
    struct Summary: Sendable {
        var requests: Int
        var replies: Int
        var duration: Duration
    }

    private struct State {
        var targets: [KafkaTopicPartition: Int64]?
        var highestRead: [KafkaTopicPartition: Int64] = [:]
        var requests = 0
        var replies = 0
        var loaded: Summary?
    }

    private let state: Mutex<State>
    private let started = ContinuousClock.now
    private let loadedFlag: Atomic<Bool>

    /// `needed: false` for a replica that reads no history (it owns its reply partition or topic).
    init(needed: Bool) {
        state = Mutex(State())
        loadedFlag = Atomic(!needed)
    }

    var isLoaded: Bool { loadedFlag.load(ordering: .acquiring) }

    /// The offsets to reach, per partition that holds anything. Returns the summary when that
    /// makes the history loaded.
    func setTargets(_ targets: [KafkaTopicPartition: Int64]) -> Summary? {
        state.withLock { state in
            state.targets = targets
            return completeIfReached(&state)
        }
    }

    /// Counts a batch read. Returns the summary when it completes the history.
    func record(_ batch: [KafkaMessage], requests: Int, replies: Int) -> Summary? {
        guard !isLoaded else { return nil }
        return state.withLock { state in
            state.requests += requests
            state.replies += replies
            for message in batch {
                let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
                state.highestRead[partition] = max(state.highestRead[partition] ?? -1, message.offset)
            }
            return completeIfReached(&state)
        }
    }

    private func completeIfReached(_ state: inout State) -> Summary? {
        guard state.loaded == nil, let targets = state.targets else { return nil }
        for (partition, offset) in targets where (state.highestRead[partition] ?? -1) < offset {
            return nil
        }
        let summary = Summary(requests: state.requests, replies: state.replies, duration: started.duration(to: .now))
        state.loaded = summary
        loadedFlag.store(true, ordering: .releasing)
        return summary
    }
}
