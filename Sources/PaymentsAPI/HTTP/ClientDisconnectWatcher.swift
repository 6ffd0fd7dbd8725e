import NIOCore
import Synchronization

/// Tells a request handler that its client closed the connection.
///
/// Hummingbird does not cancel a handler when its client disconnects. Watching the inbound
/// stream would (it is how Hummingbird does it for long-polling), but at the price of closing
/// keep-alive connections after every response. Instead this registers one close callback per
/// connection and, when it fires, runs the handlers of the requests still in progress on it.
final class ClientDisconnectWatcher: Sendable {
    private struct Connection {
        var handlers: [UInt64: @Sendable () -> Void] = [:]
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

    /// Runs `handler` once if `channel` closes before ``remove(_:)`` is called.
    func register(_ channel: any Channel, handler: @escaping @Sendable () -> Void) -> Registration {
        let connection = ObjectIdentifier(channel)
        let (token, isNewConnection) = state.withLock { state in
            state.nextToken &+= 1
            let isNew = state.connections[connection] == nil
            state.connections[connection, default: Connection()].handlers[state.nextToken] = handler
            return (state.nextToken, isNew)
        }
        if isNewConnection {
            // One callback per connection, however many requests it carries.
            channel.closeFuture.whenComplete { [self] _ in
                let handlers = state.withLock { $0.connections.removeValue(forKey: connection)?.handlers.values }
                handlers?.forEach { $0() }
            }
        }
        return Registration(connection: connection, token: token)
    }

    func remove(_ registration: Registration) {
        state.withLock { _ = $0.connections[registration.connection]?.handlers.removeValue(forKey: registration.token) }
    }

    /// Runs `operation` in a child task that is cancelled if the client disconnects (or the
    /// calling task is cancelled).
    func cancellingOnDisconnect<Result: Sendable>(
        of channel: (any Channel)?, _ operation: @escaping @Sendable () async -> Result
    ) async -> Result {
        guard let channel else { return await operation() }
        let task = Task { await operation() }
        let registration = register(channel) { task.cancel() }
        defer { remove(registration) }
        return await withTaskCancellationHandler { await task.value } onCancel: { task.cancel() }
    }
}
