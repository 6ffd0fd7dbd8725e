#if canImport(Glibc)
import Glibc
#endif
import DequeModule
import Synchronization

/// A map that forgets: at most `capacity` entries, none older than `maximumAge`; the oldest go
/// first. Safe to use from any thread; every operation is a short critical section.
public final class BoundedStore<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private struct State {
        var values: [Key: (value: Value, storedAt: Duration)] = [:]
        /// Insertion order; an entry replaced later appears twice and the stale one is skipped.
        var order: Deque<(key: Key, storedAt: Duration)> = []
    }

    private let state = Mutex(State())
    private let capacity: Int
    private let maximumAge: Duration
    private let now: @Sendable () -> Duration

    /// - Parameters:
    ///   - capacity: the most entries kept.
    ///   - maximumAge: how long an entry is kept.
    ///   - now: monotonic time since any fixed origin (tests pass their own).
    public init(capacity: Int, maximumAge: Duration, now: @escaping @Sendable () -> Duration = MonotonicTime.now) {
        self.capacity = max(1, capacity)
        self.maximumAge = maximumAge
        self.now = now
    }

    /// Stores `value` under `key`, replacing any earlier value, and evicts what no longer fits.
    public func insert(_ value: Value, for key: Key) {
        let time = now()
        state.withLock { state in
            state.values[key] = (value, time)
            state.order.append((key, time))
            evict(&state, at: time)
        }
    }

    /// The value under `key`, unless it was evicted or has aged out.
    public func value(for key: Key) -> Value? {
        let time = now()
        return state.withLock { state in
            evict(&state, at: time)
            return state.values[key]?.value
        }
    }

    public var count: Int {
        let time = now()
        return state.withLock { state in
            evict(&state, at: time)
            return state.values.count
        }
    }

    private func evict(_ state: inout State, at time: Duration) {
        while let oldest = state.order.first {
            let isStale = state.values[oldest.key].map { $0.storedAt != oldest.storedAt } ?? true
            let isExpired = time - oldest.storedAt > maximumAge
            guard isStale || isExpired || state.values.count > capacity else { return }
            state.order.removeFirst()
            if !isStale { state.values[oldest.key] = nil }
        }
    }
}

/// Monotonic time as a duration since the process's first use of it.
public enum MonotonicTime {
    private static let origin = ContinuousClock.now

    @Sendable public static func now() -> Duration {
        origin.duration(to: ContinuousClock.now)
    }
}

/// Wall-clock time in milliseconds since the Unix epoch: the unit of the `deadline` header,
/// which crosses machines.
public enum WallClock {
    @Sendable public static func nowMilliseconds() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return Int64(time.tv_sec) * 1_000 + Int64(time.tv_nsec) / 1_000_000
    }
}
