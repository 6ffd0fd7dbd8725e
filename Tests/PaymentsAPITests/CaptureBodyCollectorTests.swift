import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

@testable import PaymentsAPI

@Suite("The capture body collector")
struct CaptureBodyCollectorTests {
    let bodies = CaptureBodies()

    private func channel(maxBodyBytes: Int = 64) -> EmbeddedChannel {
        EmbeddedChannel(handler: CaptureBodyCollector(bodies: bodies, maxBodyBytes: maxBodyBytes))
    }

    private func head(_ method: HTTPRequest.Method = .post, _ path: String = CaptureEndpoint.path) -> HTTPRequestPart {
        .head(HTTPRequest(method: method, scheme: nil, authority: "x", path: path))
    }

    private func body(_ text: String) -> HTTPRequestPart {
        .body(ByteBuffer(string: text))
    }

    /// What reached the next handler, head paths, body texts and ends.
    private func passedOn(_ channel: EmbeddedChannel) throws -> [String] {
        var parts: [String] = []
        while let part = try channel.readInbound(as: HTTPRequestPart.self) {
            switch part {
            case .head(let head): parts.append("head \(head.path ?? "")")
            case .body(let bytes): parts.append("body \(String(buffer: bytes))")
            case .end: parts.append("end")
            }
        }
        return parts
    }

    private func taken(from channel: EmbeddedChannel) -> String? {
        switch bodies.take(from: channel) {
        case .complete(let bytes): String(buffer: bytes)
        case .tooLarge: "too large"
        case nil: nil
        }
    }

    @Test("a capture's head waits for its body, which goes to the endpoint, not down the pipeline")
    func capture() throws {
        let channel = channel()
        try channel.writeInbound(head())
        try channel.writeInbound(body(#"{"amount":"#))
        #expect(try passedOn(channel).isEmpty, "nothing passes before the body's end")
        try channel.writeInbound(body(#"1}"#))
        try channel.writeInbound(HTTPRequestPart.end(nil))
        #expect(try passedOn(channel) == ["head \(CaptureEndpoint.path)", "end"])
        #expect(taken(from: channel) == #"{"amount":1}"#)
        #expect(taken(from: channel) == nil, "each body is taken once")
    }

    @Test("a capture with a query string is a capture; other requests pass through untouched")
    func otherRequests() throws {
        let channel = channel()
        for part in [head(.post, "/api/v1/payments/capture/x"), body("a"), .end(nil), head(.get, CaptureEndpoint.path), .end(nil)] {
            try channel.writeInbound(part)
        }
        #expect(try passedOn(channel) == ["head /api/v1/payments/capture/x", "body a", "end", "head \(CaptureEndpoint.path)", "end"])
        #expect(taken(from: channel) == nil)

        for part in [head(.post, CaptureEndpoint.path + "?x=1"), body("b"), .end(nil)] {
            try channel.writeInbound(part)
        }
        #expect(try passedOn(channel) == ["head \(CaptureEndpoint.path)?x=1", "end"])
        #expect(taken(from: channel) == "b")
    }

    @Test("a body over the limit is dropped as it comes and reported too large")
    func tooLarge() throws {
        let channel = channel(maxBodyBytes: 8)
        for part in [head(), body("12345"), body("67890"), body("x"), .end(nil)] {
            try channel.writeInbound(part)
        }
        #expect(try passedOn(channel) == ["head \(CaptureEndpoint.path)", "end"])
        #expect(taken(from: channel) == "too large")
        // The next capture on the connection starts afresh.
        for part in [head(), body("12345678"), .end(nil)] {
            try channel.writeInbound(part)
        }
        _ = try passedOn(channel)
        #expect(taken(from: channel) == "12345678")
    }

    @Test("pipelined captures' bodies are taken in the order of their requests; an empty body is empty")
    func pipelined() throws {
        let channel = channel()
        for part in [head(), body("first"), .end(nil), head(), .end(nil), head(), body("third"), .end(nil)] {
            try channel.writeInbound(part)
        }
        #expect(try passedOn(channel).count == 6)
        #expect(taken(from: channel) == "first")
        #expect(taken(from: channel) == "")
        #expect(taken(from: channel) == "third")
        #expect(taken(from: channel) == nil)
    }

    @Test("a connection that closes drops the bodies nobody took, and a half-read capture never passes on")
    func closed() throws {
        let channel = channel()
        for part in [head(), body("kept"), .end(nil), head(), body("half")] {
            try channel.writeInbound(part)
        }
        #expect(try passedOn(channel) == ["head \(CaptureEndpoint.path)", "end"])
        _ = try channel.finish()
        #expect(taken(from: channel) == nil)
    }

    @Test("the fast path and the collector agree on what a capture is")
    func isCapture() {
        func request(_ method: HTTPRequest.Method, _ path: String) -> HTTPRequest {
            HTTPRequest(method: method, scheme: nil, authority: "x", path: path)
        }
        #expect(CaptureEndpoint.isCapture(request(.post, CaptureEndpoint.path)))
        #expect(CaptureEndpoint.isCapture(request(.post, CaptureEndpoint.path + "?a=b")))
        #expect(CaptureEndpoint.isCapture(request(.post, "http://x" + CaptureEndpoint.path)))
        #expect(!CaptureEndpoint.isCapture(request(.put, CaptureEndpoint.path)))
        #expect(!CaptureEndpoint.isCapture(request(.post, CaptureEndpoint.path + "s")))
        #expect(!CaptureEndpoint.isCapture(request(.post, "/api/v1/payments")))
    }
}
