import Instrumentation

/// A W3C Trace Context (`traceparent`, and `tracestate` passed through untouched): which trace a
/// piece of work belongs to and which span is its parent.
public struct W3CTraceContext: Sendable, Hashable, CustomStringConvertible {
    /// 32 lower-case hex digits, not all zero.
    public let traceID: String
    /// 16 lower-case hex digits, not all zero: the span this context points at.
    public let spanID: String
    /// Bit 0 is "sampled".
    public let flags: UInt8
    public let traceState: String?

    public init(traceID: String, spanID: String, flags: UInt8 = 1, traceState: String? = nil) {
        self.traceID = traceID
        self.spanID = spanID
        self.flags = flags
        self.traceState = traceState
    }

    /// Parses a `traceparent` header (`00-<trace id>-<parent id>-<flags>`); `nil` when it is not
    /// one, in which case the request starts a new trace (as the specification asks).
    public init?(traceparent: String, traceState: String? = nil) {
        let parts = traceparent.trimmingWhitespace().split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].count == 2, parts[0] != "ff", Self.isHex(parts[0]),
            parts[1].count == 32, Self.isHex(parts[1]), parts[1].contains(where: { $0 != "0" }),
            parts[2].count == 16, Self.isHex(parts[2]), parts[2].contains(where: { $0 != "0" }),
            parts[3].count == 2, Self.isHex(parts[3]), let flags = UInt8(parts[3], radix: 16),
            parts[0] != "00" || parts.count == 4
        else { return nil }
        self.init(traceID: String(parts[1]), spanID: String(parts[2]), flags: flags, traceState: traceState)
    }

    /// The `traceparent` header value.
    public var traceparent: String {
        let hexFlags = String(flags, radix: 16)
        return "00-\(traceID)-\(spanID)-\(hexFlags.count == 1 ? "0" + hexFlags : hexFlags)"
    }

    public var description: String { traceparent }

    /// The same trace, pointing at a new span.
    func child(spanID: String) -> W3CTraceContext {
        W3CTraceContext(traceID: traceID, spanID: spanID, flags: flags, traceState: traceState)
    }

    static func randomTraceID() -> String { randomHex(bytes: 16) }
    static func randomSpanID() -> String { randomHex(bytes: 8) }

    private static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        var text = ""
        repeat {
            text = (0..<bytes).map { _ in
                let byte = UInt8.random(in: 0...255, using: &generator)
                let hex = String(byte, radix: 16)
                return hex.count == 1 ? "0" + hex : hex
            }.joined()
        } while !text.contains(where: { $0 != "0" })
        return text
    }

    private static func isHex(_ text: Substring) -> Bool {
        text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> Substring {
        let characters = Substring(self)
        return characters.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()
            .reduce(into: Substring()) { $0.append($1) }
    }
}

/// Where a ``W3CTraceContext`` lives in an `InstrumentationContext`.
enum W3CTraceContextKey: InstrumentationContextKey {
    typealias Value = W3CTraceContext
}

extension InstrumentationContext {
    /// The W3C trace context of the current span (or of the remote parent, once extracted).
    public var w3cTraceContext: W3CTraceContext? {
        get { self[W3CTraceContextKey.self] }
        set { self[W3CTraceContextKey.self] = newValue }
    }
}
