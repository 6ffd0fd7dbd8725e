import Instrumentation
import Operations
import Testing
import Tracing

/// The `traceparent` the tracer writes (into Kafka headers, `traceresponse`): the W3C format,
/// byte for byte, whichever ids and flags.
@Suite("PropagatingTracer")
struct PropagatingTracerTests {
    private struct Headers: Extractor, Injector {
        func extract(key: String, from carrier: [String: String]) -> String? { carrier[key] }
        func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) { carrier[key] = value }
    }

    @Test(
        "a continued trace is written back as it came, ids and flags included",
        arguments: [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
            "00-ffffffffffffffffffffffffffffffff-0123456789abcdef-0a",
        ])
    func roundTrip(traceparent: String) {
        let tracer = PropagatingTracer()
        var context = InstrumentationContext.topLevel
        tracer.extract(["traceparent": traceparent], into: &context, using: Headers())
        var written: [String: String] = [:]
        tracer.inject(context, into: &written, using: Headers())
        #expect(written["traceparent"] == traceparent)
        #expect(TraceHeaders.traceparent(of: context, using: tracer) == traceparent)
    }

    @Test("a span started in a trace keeps its trace id and flags and names a span of its own")
    func childSpan() throws {
        let tracer = PropagatingTracer()
        var context = InstrumentationContext.topLevel
        tracer.extract(["traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"], into: &context, using: Headers())
        let span = tracer.startSpan("child", context: context, ofKind: .producer)
        let child = try #require(TraceHeaders.traceparent(of: span.context, using: tracer))
        let parts = child.split(separator: "-")
        #expect(child.utf8.count == 55)
        #expect(parts.count == 4)
        #expect(parts[0] == "00" && parts[1] == "4bf92f3577b34da6a3ce929d0e0e4736" && parts[3] == "01")
        #expect(parts[2] != "00f067aa0ba902b7")
        #expect(parts[2].allSatisfy { "0123456789abcdef".contains($0) })
    }
}
