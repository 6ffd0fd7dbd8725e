import NIOCore
import NIOEmbedded
import Synchronization
import Testing

@testable import PaymentsAPI

/// Counts the runs of a handler.
private final class Calls: Sendable {
    private let count = Atomic(0)
    var value: Int { count.load(ordering: .relaxed) }
    func handler() -> @Sendable () -> Void { { self.count.add(1, ordering: .relaxed) } }
}

@Suite("The client disconnect watcher")
struct ClientDisconnectWatcherTests {
    let watcher = ClientDisconnectWatcher()

    /// A connected channel whose pipeline reports to `watcher`, as a server connection's does.
    private func connection() throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: ClientDisconnectHandler(watcher: watcher))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        return channel
    }

    @Test("a request whose client closes its side is told once, and not again when the connection closes")
    func inputClosure() throws {
        let channel = try connection()
        let calls = Calls()
        let registration = watcher.register(channel, handler: calls.handler())
        #expect(registration != nil)
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(calls.value == 1)
        watcher.remove(registration)
        _ = try channel.finish(acceptAlreadyClosed: true)
        #expect(calls.value == 1, "closing the connection afterwards tells nobody again")
        #expect(watcher.trackedConnectionCount == 0)
    }

    @Test("a request registered after its client closed its side is told at once")
    func registeredAfterInputClosure() throws {
        let channel = try connection()
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        let calls = Calls()
        #expect(watcher.register(channel, handler: calls.handler()) == nil)
        #expect(calls.value == 1)
        _ = try channel.finish(acceptAlreadyClosed: true)
    }

    @Test("a request that finished first is not told when its connection closes")
    func finishedFirst() throws {
        let channel = try connection()
        let calls = Calls()
        watcher.remove(watcher.register(channel, handler: calls.handler()))
        let next = Calls()
        let registration = watcher.register(channel, handler: next.handler())
        _ = try channel.finish(acceptAlreadyClosed: true)
        #expect(calls.value == 0)
        #expect(next.value == 1, "the connection's next request is told")
        watcher.remove(registration)
        #expect(watcher.trackedConnectionCount == 0)
    }

    @Test("a request registered after its connection closed is told at once, and nothing of it is kept")
    func registeredAfterClosure() throws {
        let channel = try connection()
        _ = try channel.finish(acceptAlreadyClosed: true)
        #expect(!channel.isActive)
        let calls = Calls()
        let registration = watcher.register(channel, handler: calls.handler())
        #expect(registration == nil)
        #expect(calls.value == 1)
        watcher.remove(registration)
        #expect(calls.value == 1)
        #expect(watcher.trackedConnectionCount == 0, "a closed connection is not remembered")
    }
}

@Suite("The client disconnect watcher without a server")
struct ClientDisconnectWatcherWithoutServerTests {
    @Test("a router run without a server (channels never active, no handler reporting) tells nobody")
    func neverActiveChannel() throws {
        let watcher = ClientDisconnectWatcher()
        let channel = EmbeddedChannel()
        #expect(!channel.isActive)
        let calls = Calls()
        let registration = watcher.register(channel, handler: calls.handler())
        #expect(registration != nil)
        #expect(calls.value == 0)
        watcher.remove(registration)
    }
}
