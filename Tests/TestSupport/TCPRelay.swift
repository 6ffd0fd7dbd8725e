import NIOCore
import NIOPosix
import Synchronization

/// A TCP relay in front of a local broker whose connections a test can cut, as a network fault
/// would, while the broker behind it keeps running with its topics. The broker must advertise the
/// relay's port (``LocalBroker/start(port:advertisedPort:)``) so that clients keep going through it.
public final class TCPRelay: Sendable {
    public let port: Int
    private let group: MultiThreadedEventLoopGroup
    private let server: any Channel
    private let state: State

    /// The connections relayed now, and whether new ones are refused.
    private final class State: Sendable {
        let connections = Mutex<[ObjectIdentifier: any Channel]>([:])
        let refusing = Atomic(false)

        func track(_ channel: any Channel) {
            let key = ObjectIdentifier(channel)
            connections.withLock { $0[key] = channel }
            channel.closeFuture.whenComplete { [self] _ in _ = connections.withLock { $0.removeValue(forKey: key) } }
        }
    }

    private init(port: Int, group: MultiThreadedEventLoopGroup, server: any Channel, state: State) {
        self.port = port
        self.group = group
        self.server = server
        self.state = state
    }

    /// Listens on `port` and relays every connection to `targetPort` on the loopback interface.
    public static func start(listeningOn port: Int, forwardingTo targetPort: Int) async throws -> TCPRelay {
        // One thread: both halves of a relayed connection live on the same event loop.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let state = State()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                guard !state.refusing.load(ordering: .relaxed) else { return inbound.close() }
                return ClientBootstrap(group: inbound.eventLoop)
                    .channelInitializer { outbound in
                        outbound.eventLoop.makeCompletedFuture { try outbound.pipeline.syncOperations.addHandler(RelayHandler(partner: inbound)) }
                    }
                    .connect(host: "127.0.0.1", port: targetPort)
                    .flatMap { outbound in
                        state.track(inbound)
                        state.track(outbound)
                        // Both channels are on `inbound`'s event loop (the client bootstrap used it).
                        return inbound.eventLoop.makeCompletedFuture {
                            try inbound.pipeline.syncOperations.addHandler(RelayHandler(partner: outbound))
                        }.flatMap {
                            inbound.setOption(.autoRead, value: true)
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: port)
            .get()
        return TCPRelay(port: port, group: group, server: server, state: state)
    }

    /// Closes every relayed connection at once and refuses new ones for `duration`, so that the
    /// clients see every broker go down and then come back.
    public func cutConnections(refusingFor duration: Duration) async throws {
        state.refusing.store(true, ordering: .relaxed)
        let open = state.connections.withLock { Array($0.values) }
        for channel in open { try? await channel.close() }
        try await Task.sleep(for: duration)
        state.refusing.store(false, ordering: .relaxed)
    }

    public func stop() async {
        try? await server.close()
        try? await group.shutdownGracefully()
    }
}

/// Writes what one side reads to the other, and closes the other side when one closes.
private final class RelayHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let partner: any Channel

    init(partner: any Channel) {
        self.partner = partner
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        partner.close(promise: nil)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
