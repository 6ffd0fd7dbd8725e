/// Monotonic time as a duration since the process's first use of it.
public enum MonotonicTime {
    private static let origin = ContinuousClock.now

    @Sendable public static func now() -> Duration {
        origin.duration(to: ContinuousClock.now)
    }
}
