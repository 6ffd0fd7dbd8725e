import Kafka
import Logging
import Payments
import Synchronization

/// Gets partitions the group assigns ready before any of their requests is processed: the
/// simulator takes no request while the verdict journal is read up to now (``waitUntilCaughtUp()``),
/// so a request for a transaction another simulator already decided gets that verdict.
/// Catch-ups run one at a time; assignments that arrive during one are covered by another
/// right after it.
final class JournalCatchUps: Sendable {
    private struct State {
        var requested = 0
        var running = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let journal: VerdictJournal
    private let logger: Logger
    private let state = Mutex(State())

    init(journal: VerdictJournal, logger: Logger) {
        self.journal = journal
        self.logger = logger
    }

    /// Whether a catch-up is under way (the simulator is not ready meanwhile).
    var isCatchingUp: Bool { state.withLock { $0.running } }

    /// Returns once no catch-up is under way.
    func waitUntilCaughtUp() async {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state in
                guard state.running else { return true }
                state.waiters.append(continuation)
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// The rebalance hook (on the consumer's polling thread, before any message of the new
    /// partitions is fetched): starts a catch-up, unless one runs, which then runs again.
    func partitionsAssigned(_ partitions: [KafkaTopicPartition]) {
        guard !partitions.isEmpty else {
            logger.info("verdict journal loaded; taking requests", metadata: ["partitions": "none"])
            return
        }
        let start = state.withLock { state -> Bool in
            state.requested += 1
            guard !state.running else { return false }
            state.running = true
            return true
        }
        if start { Task { await run() } }
    }

    private func run() async {
        while true {
            let target = state.withLock { $0.requested }
            let started = ContinuousClock.now
            let before = journal.verdictsRead
            await journal.catchUp()
            let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>]? in
                guard state.requested == target else { return nil }
                state.running = false
                defer { state.waiters.removeAll() }
                return state.waiters
            }
            guard let waiters else { continue }
            logger.info(
                "verdict journal loaded; taking requests",
                metadata: [
                    "verdicts": "\(journal.verdictsRead - before)",
                    "duration_ms": "\(started.duration(to: .now).wholeMilliseconds)",
                ])
            waiters.forEach { $0.resume() }
            return
        }
    }
}
