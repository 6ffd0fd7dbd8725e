import NIOCore
import Synchronization

/// Tells a request handler that its client went away.
///
/// Hummingbird does not cancel a handler when its client disconnects, and it allows remote
/// half-closure, so a client's FIN only closes the connection's input. Watching the inbound
/// stream from the handler would notice (Hummingbird does that for long polling), but it closes
/// keep-alive connections after every response. Instead a small channel handler
/// (``ClientDisconnectHandler``) reports input closure and connection closure here, and the
/// requests in progress on that connection are told.
final class ClientDisconnectWatcher: Sendable {
    private struct Connection {
        /// Usually one: HTTP/1.1 clients rarely pipeline.
        var handlers: [(token: UInt64, handler: @Sendable () -> Void)] = []
        var inputClosed = false
    }

    private struct State {
        var connections: [ObjectIdentifier: Connection] = [:]
        var nextToken: UInt64 = 0
    }

    /// Removes its handler when the request finishes first.
    struct Registration: Sendable {
        fileprivate let connection: ObjectIdentifier
        fileprivate let token: UInt64
    }

    private let state = Mutex(State())

    /// Runs `handler` once if `channel`'s client goes away before ``remove(_:)`` is called (at
    /// once if it already has).
    func register(_ channel: any Channel, handler: @escaping @Sendable () -> Void) -> Registration? {
        let connection = ObjectIdentifier(channel)
        let token: UInt64? = state.withLock { state in
            if state.connections[connection]?.inputClosed == true { return nil }
            state.nextToken &+= 1
            state.connections[connection, default: Connection()].handlers.append((state.nextToken, handler))
            return state.nextToken
        }
        guard let token else {
            handler()
            return nil
        }
        return Registration(connection: connection, token: token)
    }

    func remove(_ registration: Registration?) {
        guard let registration else { return }
        state.withLock { $0.connections[registration.connection]?.handlers.removeAll { $0.token == registration.token } }
    }

    /// The client closed its side: no more requests will come on this connection, and nobody
    /// will read the answers of those in progress.
    func inputClosed(_ channel: any Channel) {
        let handlers = state.withLock { state in
            let handlers = state.connections[ObjectIdentifier(channel)]?.handlers.map(\.handler) ?? []
            state.connections[ObjectIdentifier(channel)] = Connection(inputClosed: true)
            return handlers
        }
        handlers.forEach { $0() }
    }

    /// The connection is gone.
    func closed(_ channel: any Channel) {
        let handlers = state.withLock { $0.connections.removeValue(forKey: ObjectIdentifier(channel))?.handlers.map(\.handler) } ?? []
        handlers.forEach { $0() }
    }
}

/// Reports a connection's input closure and closure to the ``ClientDisconnectWatcher``. One per
/// connection, added after HTTP decoding.
final class ClientDisconnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any

    private let watcher: ClientDisconnectWatcher

    init(watcher: ClientDisconnectWatcher) {
        self.watcher = watcher
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            watcher.inputClosed(context.channel)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        watcher.closed(context.channel)
        context.fireChannelInactive()
    }
}
