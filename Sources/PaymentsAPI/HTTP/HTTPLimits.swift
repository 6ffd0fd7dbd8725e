import Glibc

/// Limits on what a client may send.
public struct HTTPLimits: Sendable, Hashable {
    /// Largest capture body accepted; larger ones get 413.
    public var maxBodyBytes: Int
    /// Largest header section accepted (all fields together); a larger one closes the connection
    /// with 400.
    public var maxHeaderBytes: Int

    /// How long a client may take to send a request head, from its connection (or its first
    /// byte after a response); nginx's `client_header_timeout` is 60 s too.
    public var headerTimeout: Duration
    /// How long a request body may stall between two reads (nginx's `client_body_timeout`).
    public var bodyTimeout: Duration
    /// How long a keep-alive connection may stay idle after a response (nginx's 75 s).
    public var idleTimeout: Duration
    /// Connections open at once; beyond it a new one gets 503 and is closed.
    public var maxConnections: Int

    public init(
        maxBodyBytes: Int = 64 * 1024, maxHeaderBytes: Int = 16 * 1024, headerTimeout: Duration = .seconds(60),
        bodyTimeout: Duration = .seconds(60), idleTimeout: Duration = .seconds(75), maxConnections: Int = HTTPLimits.defaultMaxConnections
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.idleTimeout = idleTimeout
        self.maxConnections = maxConnections
    }

    /// The process's file descriptor limit less 256 for Kafka's sockets, logs and the rest: the
    /// excess is refused before `accept` runs out of descriptors.
    public static var defaultMaxConnections: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return 65_536 }
        return max(64, Int(clamping: limit.rlim_cur) - 256)
    }
}
