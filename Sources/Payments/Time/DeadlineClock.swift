/// Monotonic time as the correlation registry uses it: durations since a fixed origin, and a
/// sleep until one of them. Tests substitute a clock that moves only when told.
public protocol DeadlineClock: Sendable {
    /// Monotonic time since this clock's origin.
    func now() -> Duration
    /// Returns at `deadline` (or at once if it has passed); throws when the task is cancelled.
    func sleep(until deadline: Duration) async throws
}

/// The system's monotonic clock (`ContinuousClock`).
public struct SystemDeadlineClock: DeadlineClock {
    public init() {}

    public func now() -> Duration { MonotonicTime.now() }

    public func sleep(until deadline: Duration) async throws {
        let remaining = deadline - MonotonicTime.now()
        if remaining > .zero {
            try await Task.sleep(for: remaining)
        } else {
            try Task.checkCancellation()
        }
    }
}
