import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization

/// Closes a connection whose client is slow or idle, the way nginx does: a request head not
/// complete within `headerTimeout` (from the connection, or from the first byte after a
/// response), a body that stalls longer than `bodyTimeout` between reads, a keep-alive connection
/// idle longer than `idleTimeout` after its last response. While a request is being answered no
/// deadline runs: a waiting capture ends by its own timeout, never by these.
///
/// Sits after the HTTP codec (it sees request and response parts) and puts a
/// ``ConnectionGuard`` just before the HTTP codec (after TLS, when there is TLS), which sees the
/// raw bytes: the first byte after a response switches from the idle deadline to the header
/// deadline.
final class ClientDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private enum Phase {
        /// Connected, or a byte of the next request has arrived: the head must complete.
        case awaitingHead
        case readingBody
        /// Requests read and not yet answered: no deadline.
        case answering
        /// Every request answered: the keep-alive deadline.
        case idle
    }

    private let limits: HTTPLimits
    private let connections: ConnectionCount
    private var phase = Phase.awaitingHead
    /// Requests read in full whose responses have not ended (HTTP/1.1 pipelining).
    private var unanswered = 0
    /// When the connection is closed unless the deadline moves; `nil` while answering.
    private var closeAt: NIODeadline?
    /// The one check scheduled on the event loop, and when it runs. Moving ``closeAt`` later
    /// leaves it alone (it looks again when it runs), so a request on a kept-alive connection
    /// schedules no timer: re-arming a timer three or four times per request cost serve about 2%
    /// of its CPU.
    private var check: (task: Scheduled<Void>, at: NIODeadline)?
    /// No check is scheduled further out than the shortest timeout, so that the next deadline set
    /// (never shorter than that from now) comes after it and needs no timer of its own.
    private let checkInterval: TimeAmount

    init(limits: HTTPLimits, connections: ConnectionCount) {
        self.limits = limits
        self.connections = connections
        checkInterval = TimeAmount(min(limits.headerTimeout, limits.bodyTimeout, limits.idleTimeout))
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let guardHandler = ConnectionGuard(connections: connections, limit: limits.maxConnections) { [weak self] context in
            self?.bytesArrived(context: context)
        }
        let operations = context.pipeline.syncOperations
        if let encoder = try? operations.handler(type: HTTPResponseEncoder.self) {
            try? operations.addHandler(guardHandler, position: .before(encoder))
        } else {
            try? operations.addHandler(guardHandler, position: .first)
        }
        arm(limits.headerTimeout, context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stopChecking()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stopChecking()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            phase = .readingBody
            arm(limits.bodyTimeout, context: context)
        case .body:
            arm(limits.bodyTimeout, context: context)
        case .end:
            unanswered += 1
            phase = .answering
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            unanswered = max(0, unanswered - 1)
            if unanswered == 0, phase == .answering {
                phase = .idle
                arm(limits.idleTimeout, context: context)
            }
        }
        context.write(data, promise: promise)
    }

    /// Raw bytes reached the connection: after a response they begin the next request's head.
    private func bytesArrived(context: ChannelHandlerContext) {
        guard phase == .idle else { return }
        phase = .awaitingHead
        arm(limits.headerTimeout, context: context)
    }

    private func arm(_ timeout: Duration, context: ChannelHandlerContext) {
        let deadline = NIODeadline.now() + TimeAmount(timeout)
        closeAt = deadline
        if let check, check.at <= deadline { return }  // it runs first, and looks again
        scheduleCheck(at: deadline, context: context)
    }

    /// No deadline while answering; a check already scheduled finds nothing to do.
    private func disarm() {
        closeAt = nil
    }

    private func scheduleCheck(at time: NIODeadline, context: ChannelHandlerContext) {
        check?.task.cancel()
        let handler = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: time) {
            let (handler, context) = handler.value
            handler.runCheck(context: context)
        }
        check = (task, time)
    }

    private func runCheck(context: ChannelHandlerContext) {
        check = nil
        guard let closeAt else { return }  // answering: the next deadline schedules a check
        let now = NIODeadline.now()
        guard closeAt > now else {
            context.channel.close(promise: nil)
            return
        }
        scheduleCheck(at: min(closeAt, now + checkInterval), context: context)
    }

    private func stopChecking() {
        check?.task.cancel()
        check = nil
        closeAt = nil
    }
}

/// The first handler of every connection: counts the open connections and refuses one beyond the
/// limit with a plain 503 (before any request is read, so it is written as raw bytes), and tells
/// the ``ClientDeadlineHandler`` when bytes arrive.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let connections: ConnectionCount
    private let limit: Int
    private let onBytes: (ChannelHandlerContext) -> Void
    private var counted = false
    private var refused = false

    init(connections: ConnectionCount, limit: Int, onBytes: @escaping (ChannelHandlerContext) -> Void) {
        self.connections = connections
        self.limit = limit
        self.onBytes = onBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        counted = true
        let open = connections.open()
        if context.channel.isActive { refuseIfOver(open, context: context) } else { openCount = open }
    }

    func channelActive(context: ChannelHandlerContext) {
        if let openCount {
            self.openCount = nil
            refuseIfOver(openCount, context: context)
        }
        context.fireChannelActive()
    }

    private var openCount: Int?

    private func refuseIfOver(_ open: Int, context: ChannelHandlerContext) {
        guard open > limit else { return }
        refused = true
        let body = #"{"error_code":"too_many_connections","error_message":"the server has as many connections open as it allows; retry shortly"}"#
        let response = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nRetry-After: 1\r\nConnection: close\r\n\r\n\(body)"
        let channel = context.channel
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: response))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        if counted {
            counted = false
            connections.close()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !refused else { return }  // nothing of a refused connection is read
        onBytes(context)
        context.fireChannelRead(data)
    }
}

/// The connections open now, across the server.
final class ConnectionCount: Sendable {
    private let value = Atomic(0)

    /// Counts one more; returns how many are open with it.
    func open() -> Int { value.wrappingAdd(1, ordering: .relaxed).newValue }

    func close() { value.wrappingSubtract(1, ordering: .relaxed) }

    var current: Int { value.load(ordering: .relaxed) }
}
