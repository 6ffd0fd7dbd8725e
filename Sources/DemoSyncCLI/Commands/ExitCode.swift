/// The exit codes of `demosync`, documented in `--help` and in docs/configuration.md.
public enum ExitCode {
    /// Success; for `capture`, the payment was approved.
    public static let success: Int32 = 0
    /// An error: the API refused the request (4xx), answered 502/500, or could not be reached.
    public static let failure: Int32 = 1
    /// A usage error: unknown option or bad value.
    public static let usage: Int32 = 2
    /// `capture`: the payment was declined.
    public static let declined: Int32 = 3
    /// `capture`: no verdict in time (504 or the client's own timeout); it may still complete.
    public static let timedOut: Int32 = 4
    /// `capture`: the API could not send the capture (503); retrying is safe.
    public static let unavailable: Int32 = 5
    /// `capture --async`: under way, no verdict yet; ask its status URL later.
    public static let pending: Int32 = 6
}
