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
    /// Whether a ``ClientDisconnectHandler`` reports to this watcher, so that a channel it is asked
    /// about and finds inactive has closed. A router run without a server (Hummingbird's test
    /// framework) passes channels that were never active, and no handler reports on them.
    private let hasHandlers = Atomic(false)

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
        let registration = Registration(connection: connection, token: token)
        // The connection may have closed before the handler was added, and ``closed(_:)`` then
        // ran without it. NIO marks a channel inactive before it fires `channelInactive`, so
        // either ``closed(_:)`` takes the handler or this sees the channel inactive; whichever
        // removes the handler runs it.
        if !channel.isActive, hasHandlers.load(ordering: .relaxed), take(registration, forgettingEmptyConnection: true) {
            handler()
            return nil
        }
        return registration
    }

    func remove(_ registration: Registration?) {
        guard let registration else { return }
        // The connection's entry stays until it closes: its next request reuses it.
        _ = take(registration, forgettingEmptyConnection: false)
    }

    /// Removes a registration's handler; false when it was no longer there (it ran, or will).
    private func take(_ registration: Registration, forgettingEmptyConnection: Bool) -> Bool {
        state.withLock { state in
            let key = registration.connection
            // In place: a copy of the connection's entry would copy its handler array too.
            guard let index = state.connections[key]?.handlers.firstIndex(where: { $0.token == registration.token }) else { return false }
            state.connections[key]?.handlers.remove(at: index)
            if forgettingEmptyConnection, let connection = state.connections[key], connection.handlers.isEmpty, !connection.inputClosed {
                state.connections[key] = nil
            }
            return true
        }
    }

    /// Connections with handlers registered or with their input closed (for tests).
    var trackedConnectionCount: Int { state.withLock { $0.connections.count } }

    /// A ``ClientDisconnectHandler`` joined a connection's pipeline.
    fileprivate func handlerAdded() {
        if !hasHandlers.load(ordering: .relaxed) { hasHandlers.store(true, ordering: .relaxed) }
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

    func handlerAdded(context: ChannelHandlerContext) {
        watcher.handlerAdded()
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
