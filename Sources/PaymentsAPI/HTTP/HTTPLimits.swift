/// Limits on what a client may send.
public struct HTTPLimits: Sendable, Hashable {
    /// Largest capture body accepted; larger ones get 413.
    public var maxBodyBytes: Int
    /// Largest header section accepted (all fields together); a larger one closes the connection
    /// with 400.
    public var maxHeaderBytes: Int

    public init(maxBodyBytes: Int = 64 * 1024, maxHeaderBytes: Int = 16 * 1024) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
    }
}
