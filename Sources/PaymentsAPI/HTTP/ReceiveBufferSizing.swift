import NIOCore

/// Starts a connection's receive buffer at 512 bytes instead of NIO's 2 KB. A channel keeps its
/// receive buffer after its first read, and a capture's request (headers and body) is a few
/// hundred bytes: at 10,000 connections with a capture pending on each, the default costs 15 MB
/// more for nothing. The allocator still grows for larger requests.
final class ReceiveBufferSizing: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Any

    func handlerAdded(context: ChannelHandlerContext) {
        try? context.channel.syncOptions?.setOption(
            ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
    }
}
