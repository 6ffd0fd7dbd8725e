import HTTPTypes
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import Synchronization

/// A capture's body as its connection's ``CaptureBodyCollector`` read it.
enum CollectedBody: Sendable {
    case complete(ByteBuffer)
    /// Larger than the limit: its bytes were dropped as they came.
    case tooLarge
}

/// Hands each capture's body from its connection's ``CaptureBodyCollector`` to the capture
/// endpoint, in the order the connection's capture requests came.
///
/// The responder knows a request only by its `Channel`, so the bodies are kept by channel; a
/// body waits here only between the end of its request and the start of its responder.
final class CaptureBodies: Sendable {
    /// Usually one body per connection, and only for a moment: HTTP/1.1 clients rarely pipeline.
    private let waiting = Mutex<[ObjectIdentifier: [CollectedBody]]>([:])

    init() {}

    fileprivate func deposit(_ body: CollectedBody, from channel: any Channel) {
        waiting.withLock { $0[ObjectIdentifier(channel), default: []].append(body) }
    }

    /// The body of `channel`'s next capture, or `nil` when its pipeline has no collector.
    func take(from channel: any Channel) -> CollectedBody? {
        waiting.withLock { waiting in
            let connection = ObjectIdentifier(channel)
            guard var bodies = waiting.removeValue(forKey: connection), !bodies.isEmpty else { return nil }
            let body = bodies.removeFirst()
            if !bodies.isEmpty { waiting[connection] = bodies }
            return body
        }
    }

    /// The connection is gone: a body its responder never took is dropped with it.
    fileprivate func discard(from channel: any Channel) {
        _ = waiting.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}

/// Reads a capture's whole body in the channel pipeline, so that the capture's responder does
/// not read it through Hummingbird's request-body stream.
///
/// A pending capture holds its connection's task, and the task's allocator keeps every slab
/// (about 1 KB each) that the deepest stack of async frames the task ever reached took, until the
/// connection closes. Reading a body from the responder is that deepest stack: Hummingbird's
/// request-body iterator over NIO's inbound stream goes one slab past an idle connection's wait
/// for its next request. So a capture's head is held back here until its body has come, the body
/// goes to ``CaptureBodies``, and the head and the end go on with no body between them; the
/// responder takes the body from ``CaptureBodies`` without an await.
///
/// Sits last among the connection's handlers, after HTTP decoding and the client deadlines
/// (which see the body's parts as they come). Other requests pass through untouched. A body
/// over the limit is dropped as it comes (the endpoint answers 413); a request whose connection
/// closes before its end never reaches the responder.
final class CaptureBodyCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let bodies: CaptureBodies
    private let maxBodyBytes: Int
    /// The capture being read, from its head to its end.
    private var head: HTTPRequest?
    private var body: ByteBuffer?
    private var tooLarge = false

    init(bodies: CaptureBodies, maxBodyBytes: Int) {
        self.bodies = bodies
        self.maxBodyBytes = maxBodyBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        guard let head else {
            if case .head(let request) = part, CaptureEndpoint.isCapture(request) {
                head = request
            } else {
                context.fireChannelRead(data)
            }
            return
        }
        switch part {
        case .body(let bytes):
            append(bytes)
        case .end(let trailers):
            bodies.deposit(tooLarge ? .tooLarge : .complete(body ?? ByteBuffer()), from: context.channel)
            self.head = nil
            body = nil
            tooLarge = false
            context.fireChannelRead(wrapInboundOut(.head(head)))
            context.fireChannelRead(wrapInboundOut(.end(trailers)))
        case .head:
            // The HTTP decoder ends every request before the next head.
            context.fireErrorCaught(HTTPParserError.invalidInternalState)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        bodies.discard(from: context.channel)
        context.fireChannelInactive()
    }

    private func append(_ bytes: ByteBuffer) {
        guard !tooLarge else { return }
        guard (body?.readableBytes ?? 0) + bytes.readableBytes <= maxBodyBytes else {
            tooLarge = true
            body = nil
            return
        }
        if body == nil {
            body = bytes
        } else {
            body!.writeImmutableBuffer(bytes)
        }
    }
}
