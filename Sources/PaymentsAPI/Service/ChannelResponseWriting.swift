import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

/// Writes a response into its connection's channel pipeline, with what Hummingbird's
/// application adds to every response (`Date`, `Server`), instead of through Hummingbird's
/// `ResponseWriter`.
///
/// A pending capture holds its connection's task, and the task's allocator keeps every slab
/// (about 1 KB each) that the task ever took, until the connection closes. Two things take
/// slabs: async frames, and the small record the runtime puts on top of a task's allocator each
/// time the task is enqueued to run again after a suspension (a new slab when the top one is
/// full). Writing through the `ResponseWriter` nests NIO's outbound writer, its async writer and
/// a cancellation handler under the responder, about 1.7 KB of frames where an idle connection's
/// wait for its next request takes about 0.9 KB, and it suspends down there when the channel
/// must first flush. Here the response's parts are handed to the event loop in one go from a few
/// hundred bytes of frames, and the responder suspends only while the channel is not writable
/// (the backpressure the `ResponseWriter` gives).
///
/// Nothing else writes on the connection meanwhile: Hummingbird reads the connection's next
/// request only after the responder returns, and its own writes (after a parse error, the
/// output's closure) reach the event loop after these. The parts go through the same handlers,
/// from the pipeline's tail, as the `ResponseWriter`'s.
enum ChannelResponseWriting {
    static func write(_ response: consuming Response, dates: HTTPDate, to channel: any Channel) async throws {
        let head = stamped(response.head, dates: dates)
        let body = BufferedResponseBody()
        try await response.body.write(BufferedResponseBody.Writer(body: body))
        if let flushed = send(head, body: body.taken(), to: channel) {
            try await flushed.get()
        }
    }

    @inline(never)
    private static func stamped(_ head: HTTPResponse, dates: HTTPDate) -> HTTPResponse {
        var head = head
        head.headerFields[.date] = dates.current
        head.headerFields[.server] = "demosync"
        return head
    }

    /// Writes and flushes the parts on the event loop (at once when this is it); returns the
    /// flush's future when the channel is not writable, for the caller to wait for.
    @inline(never)
    private static func send(_ head: HTTPResponse, body: BufferedResponseBody.Parts, to channel: any Channel) -> EventLoopFuture<Void>? {
        let flushed = channel.isWritable ? nil : channel.eventLoop.makePromise(of: Void.self)
        let write: @Sendable () -> Void = {
            channel.write(HTTPResponsePart.head(head), promise: nil)
            for buffer in body.buffers {
                channel.write(HTTPResponsePart.body(buffer), promise: nil)
            }
            channel.writeAndFlush(HTTPResponsePart.end(body.trailers), promise: flushed)
        }
        if channel.eventLoop.inEventLoop {
            write()
        } else {
            channel.eventLoop.execute(write)
        }
        return flushed?.futureResult
    }
}

/// A response body's buffers, as its writer produced them. Hummingbird's bodies are written
/// through a `ResponseBodyWriter` that the body consumes, so the buffers are kept in a box.
private final class BufferedResponseBody: Sendable {
    struct Parts: Sendable {
        var buffers: [ByteBuffer] = []
        var trailers: HTTPFields?
    }

    private let parts = Mutex(Parts())

    func taken() -> Parts {
        parts.withLock { $0 }
    }

    struct Writer: ResponseBodyWriter {
        let body: BufferedResponseBody

        mutating func write(_ buffer: ByteBuffer) async throws {
            body.parts.withLock { $0.buffers.append(buffer) }
        }

        consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
            body.parts.withLock { $0.trailers = trailingHeaders }
        }
    }
}
