import Instrumentation
import Synchronization

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

    static func randomTraceID() -> String { TraceIDGenerator.shared.hex(words: 2) }
    static func randomSpanID() -> String { TraceIDGenerator.shared.hex(words: 1) }

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

/// Trace and span ids: unique and unpredictable enough for tracing, and cheap. A span is started
/// for every capture; asking the kernel for random bytes each time (the system generator) cost
/// about 4% of serve's CPU under load. Instead a random seed, drawn once, is mixed with a counter
/// through SplitMix64, whose outputs are distinct for distinct inputs.
final class TraceIDGenerator: Sendable {
    static let shared = TraceIDGenerator()

    private let seed: UInt64
    private let counter = Atomic<UInt64>(0)

    private init() {
        var system = SystemRandomNumberGenerator()
        seed = system.next()
    }

    /// `words` 64-bit words as lower-case hex, never all zero.
    func hex(words: Int) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words * 16)
        for _ in 0..<words {
            var value = next()
            for _ in 0..<16 {
                bytes.append(Self.digits[Int(value >> 60)])
                value <<= 4
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func next() -> UInt64 {
        // SplitMix64 (Steele, Lea and Flood): a bijective mix of seed + counter.
        var z = seed &+ counter.wrappingAdd(1, ordering: .relaxed).newValue &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        let mixed = z ^ (z >> 31)
        return mixed == 0 ? 1 : mixed
    }

    private static let digits = Array("0123456789abcdef".utf8)
}
