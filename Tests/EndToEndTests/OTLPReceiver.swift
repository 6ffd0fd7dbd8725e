import NIOCore
import NIOPosix
import Synchronization

/// An OTLP/HTTP trace receiver for the tests: it answers every `POST` with an empty
/// `ExportTraceServiceResponse` and keeps the spans of each `ExportTraceServiceRequest`, decoded
/// by hand from the protobuf encoding of the OpenTelemetry proto definitions
/// (opentelemetry/proto/collector/trace/v1/trace_service.proto, trace/v1/trace.proto): only the
/// fields the tests look at. With `answering: false` it takes connections and never answers (a
/// collector that hangs).
final class OTLPReceiver: Sendable {
    struct ReceivedSpan: Sendable, CustomStringConvertible {
        var serviceName = ""
        var traceID = ""
        var spanID = ""
        var parentSpanID = ""
        var name = ""
        /// SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer.
        var kind = 0

        var description: String { "\(serviceName) \(name) kind=\(kind) trace=\(traceID) span=\(spanID) parent=\(parentSpanID)" }
    }

    private final class Sink: Sendable {
        let received = Mutex<[ReceivedSpan]>([])
        let requests = Atomic(0)

        func record(_ body: [UInt8]) {
            requests.add(1, ordering: .relaxed)
            let spans = (try? OTLPReceiver.decodeExportRequest(body)) ?? []
            received.withLock { $0.append(contentsOf: spans) }
        }
    }

    private let channel: any Channel
    private let sink: Sink
    let port: Int

    var endpoint: String { "http://127.0.0.1:\(port)" }
    var spans: [ReceivedSpan] { sink.received.withLock { $0 } }
    var requestCount: Int { sink.requests.load(ordering: .relaxed) }

    static func start(answering: Bool = true) async throws -> OTLPReceiver {
        let sink = Sink()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(HTTPHandler(answering: answering) { body in sink.record(body) })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return OTLPReceiver(channel: channel, sink: sink)
    }

    private init(channel: any Channel, sink: Sink) {
        self.channel = channel
        self.sink = sink
        port = channel.localAddress?.port ?? 0
    }

    func stop() async {
        try? await channel.close().get()
    }

    // MARK: protobuf, by hand

    struct DecodeError: Error {}

    /// ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
    static func decodeExportRequest(_ bytes: [UInt8]) throws -> [ReceivedSpan] {
        var spans: [ReceivedSpan] = []
        try ProtoReader(bytes[...]).forEachField { field, value in
            guard field == 1, case .bytes(let resourceSpans) = value else { return }
            spans += try decodeResourceSpans(resourceSpans)
        }
        return spans
    }

    /// ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
    /// ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
    private static func decodeResourceSpans(_ bytes: ArraySlice<UInt8>) throws -> [ReceivedSpan] {
        var serviceName = ""
        var spans: [ReceivedSpan] = []
        try ProtoReader(bytes).forEachField { field, value in
            guard case .bytes(let message) = value else { return }
            if field == 1 {
                serviceName = try decodeServiceName(message) ?? serviceName
            } else if field == 2 {
                try ProtoReader(message).forEachField { field, value in
                    guard field == 2, case .bytes(let span) = value else { return }
                    spans.append(try decodeSpan(span))
                }
            }
        }
        return spans.map { var span = $0; span.serviceName = serviceName; return span }
    }

    /// Resource { repeated KeyValue attributes = 1; } KeyValue { string key = 1; AnyValue value = 2; }
    /// AnyValue { string string_value = 1; ... }
    private static func decodeServiceName(_ bytes: ArraySlice<UInt8>) throws -> String? {
        var name: String?
        try ProtoReader(bytes).forEachField { field, value in
            guard field == 1, case .bytes(let keyValue) = value else { return }
            var key = ""
            var text: String?
            try ProtoReader(keyValue).forEachField { field, value in
                guard case .bytes(let content) = value else { return }
                if field == 1 { key = String(decoding: content, as: UTF8.self) }
                if field == 2 {
                    try ProtoReader(content).forEachField { field, value in
                        if field == 1, case .bytes(let string) = value { text = String(decoding: string, as: UTF8.self) }
                    }
                }
            }
            if key == "service.name" { name = text }
        }
        return name
    }

    /// Span { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
    /// string name = 5; SpanKind kind = 6; ... }
    private static func decodeSpan(_ bytes: ArraySlice<UInt8>) throws -> ReceivedSpan {
        var span = ReceivedSpan()
        try ProtoReader(bytes).forEachField { field, value in
            switch (field, value) {
            case (1, .bytes(let id)): span.traceID = hex(id)
            case (2, .bytes(let id)): span.spanID = hex(id)
            case (4, .bytes(let id)): span.parentSpanID = hex(id)
            case (5, .bytes(let name)): span.name = String(decoding: name, as: UTF8.self)
            case (6, .varint(let kind)): span.kind = Int(kind)
            default: break
            }
        }
        return span
    }

    private static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The protobuf wire format: tag varints (field << 3 | wire type), then the value.
    struct ProtoReader {
        enum Value {
            case varint(UInt64)
            case bytes(ArraySlice<UInt8>)
            case fixed
        }

        var bytes: ArraySlice<UInt8>

        init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

        mutating func varint() throws -> UInt64 {
            var result: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                guard let byte = bytes.popFirst(), shift < 64 else { throw DecodeError() }
                result |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return result }
                shift += 7
            }
        }

        func forEachField(_ body: (Int, Value) throws -> Void) throws {
            var reader = self
            while !reader.bytes.isEmpty {
                let tag = try reader.varint()
                let field = Int(tag >> 3)
                switch tag & 7 {
                case 0: try body(field, .varint(try reader.varint()))
                case 1:
                    guard reader.bytes.count >= 8 else { throw DecodeError() }
                    reader.bytes.removeFirst(8)
                    try body(field, .fixed)
                case 2:
                    let length = Int(try reader.varint())
                    guard reader.bytes.count >= length else { throw DecodeError() }
                    let content = reader.bytes.prefix(length)
                    reader.bytes.removeFirst(length)
                    try body(field, .bytes(content))
                case 5:
                    guard reader.bytes.count >= 4 else { throw DecodeError() }
                    reader.bytes.removeFirst(4)
                    try body(field, .fixed)
                default: throw DecodeError()
                }
            }
        }
    }

    // MARK: HTTP/1.1, just enough

    /// Reads requests with a `Content-Length` body (what swift-otel's exporter sends) off one
    /// connection, keep-alive included.
    private final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let answering: Bool
        private let onBody: @Sendable ([UInt8]) -> Void
        private var pending: [UInt8] = []

        init(answering: Bool, onBody: @escaping @Sendable ([UInt8]) -> Void) {
            self.answering = answering
            self.onBody = onBody
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            guard answering else { return }  // a collector that takes the bytes and never answers
            pending += buffer.readBytes(length: buffer.readableBytes) ?? []
            while let (headEnd, length) = head(), pending.count >= headEnd + length {
                let body = Array(pending[headEnd..<(headEnd + length)])
                pending.removeFirst(headEnd + length)
                onBody(body)
                let response = "HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n"
                context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: response)), promise: nil)
            }
        }

        /// Where the head ends and the body's length, once the head is complete.
        private func head() -> (Int, Int)? {
            let separator: [UInt8] = Array("\r\n\r\n".utf8)
            guard pending.count >= 4, let index = (0...(pending.count - 4)).first(where: { pending[$0..<($0 + 4)].elementsEqual(separator) })
            else { return nil }
            let text = String(decoding: pending[..<index], as: UTF8.self)
            var length = 0
            for line in text.split(separator: "\r\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2, parts[0].lowercased() == "content-length" {
                    length = Int(parts[1].filter { $0 != " " && $0 != "\t" }) ?? 0
                }
            }
            return (index + 4, length)
        }
    }
}
