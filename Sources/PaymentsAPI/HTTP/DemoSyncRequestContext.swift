import Hummingbird
import Logging
import NIOCore

/// The request context of every DemoSync route: Hummingbird's core context plus the request's
/// channel, through which a capture learns that its client went away.
public struct DemoSyncRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// `nil` in router tests, which have no connection.
    public let channel: (any Channel)?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
