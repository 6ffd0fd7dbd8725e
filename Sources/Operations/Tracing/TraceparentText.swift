import W3CTraceContext

/// The W3C `traceparent` header value of a trace context, written straight into the string's
/// storage: `TraceContext.traceParentHeaderValue` builds it by interpolation, six heap
/// allocations for a header that every capture writes twice (the Kafka request, `traceresponse`).
enum TraceparentText {
    /// `00-<trace id>-<span id>-<flags>`, lower-case hex, 55 bytes.
    static func format(_ trace: TraceContext) -> String {
        String(unsafeUninitializedCapacity: 55) { text in
            var index = 0
            func put(_ byte: UInt8) {
                text[index] = byte
                index += 1
            }
            func putHex(_ byte: UInt8) {
                put(hexDigit(byte >> 4))
                put(hexDigit(byte & 0x0F))
            }
            put(UInt8(ascii: "0"))
            put(UInt8(ascii: "0"))
            put(UInt8(ascii: "-"))
            withUnsafeBytes(of: trace.traceID.bytes) { $0.forEach(putHex) }
            put(UInt8(ascii: "-"))
            withUnsafeBytes(of: trace.spanID.bytes) { $0.forEach(putHex) }
            put(UInt8(ascii: "-"))
            putHex(trace.flags.rawValue)
            return index
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") - 10 + value
    }
}
