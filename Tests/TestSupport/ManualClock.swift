import Payments
import Synchronization

/// A clock that moves only when a test advances it, so that deadline behaviour is tested without
/// waiting and without asserting anything about wall-clock time.
public final class ManualClock: Clock, Sendable {
    public struct Instant: InstantProtocol, Sendable {
        public let offset: Duration

        public func advanced(by duration: Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Duration { other.offset - offset }
        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.offset < rhs.offset }
    }

    private struct Sleeper {
        let deadline: Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now = Instant(offset: .zero)
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var now: Instant { state.withLock { $0.now } }
    public var minimumResolution: Duration { .zero }

    /// Sleepers currently waiting on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    public func sleep(until deadline: Instant, tolerance: Duration? = nil) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let resumeNow: Result<Void, any Error>? = state.withLock { state in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let resumeNow { continuation.resume(with: resumeNow) }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves time forward and wakes every sleeper whose deadline has come.
    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now = state.now.advanced(by: duration)
            let now = state.now
            let due = state.sleepers.filter { $0.value.deadline <= now }
            due.keys.forEach { state.sleepers[$0] = nil }
            return Array(due.values)
        }
        due.forEach { $0.continuation.resume() }
    }

    /// Waits (yielding) until `count` tasks sleep on this clock, so that a test advances time only
    /// after the deadlines it means to fire exist.
    public func waitForSleepers(_ count: Int) async {
        for _ in 0..<10_000 where sleeperCount < count {
            try? await Task.sleep(for: .milliseconds(1))
        }
    }
}

/// A ``ManualClock`` seen as the correlation registry's clock.
public struct ManualDeadlineClock: DeadlineClock {
    public let clock: ManualClock

    public init(_ clock: ManualClock) {
        self.clock = clock
    }

    public func now() -> Duration { clock.now.offset }

    public func sleep(until deadline: Duration) async throws {
        try await clock.sleep(until: ManualClock.Instant(offset: deadline), tolerance: nil)
    }
}
