import Instrumentation
import Logging
import Synchronization
import Tracing

/// A swift-distributed-tracing `Tracer` that propagates W3C Trace Context: it reads
/// `traceparent`/`tracestate` from any carrier (HTTP headers, Kafka headers), starts child spans
/// in the same trace, and writes the current span's context back out. Finished spans are logged
/// at debug level (with trace and span ids), which is enough to follow one capture across `serve`
/// and `simulate`; an OpenTelemetry exporter can replace it without touching the code that
/// creates spans.
public struct W3CTracer: Tracer {
    public typealias Span = W3CSpan

    private let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    public func startSpan<Instant: TracerInstant>(
        _ operationName: String, context: @autoclosure () -> InstrumentationContext, ofKind kind: SpanKind,
        at instant: @autoclosure () -> Instant, function: String, file fileID: String, line: UInt
    ) -> W3CSpan {
        var spanContext = context()
        let parent = spanContext.w3cTraceContext
        let own = parent?.child(spanID: W3CTraceContext.randomSpanID())
            ?? W3CTraceContext(traceID: W3CTraceContext.randomTraceID(), spanID: W3CTraceContext.randomSpanID())
        spanContext.w3cTraceContext = own
        // Spans are only ever logged at debug level: below it they propagate the trace and record
        // nothing (no attributes kept, no state allocated).
        guard logger.logLevel <= .debug else {
            return W3CSpan(operationName: operationName, context: spanContext, kind: kind, parentSpanID: parent?.spanID)
        }
        return W3CSpan(
            operationName: operationName, context: spanContext, kind: kind, parentSpanID: parent?.spanID,
            startNanoseconds: instant().nanosecondsSinceEpoch, logger: logger)
    }

    public func forceFlush() {}

    public func extract<Carrier, Extract: Extractor>(_ carrier: Carrier, into context: inout InstrumentationContext, using extractor: Extract)
    where Extract.Carrier == Carrier {
        guard let header = extractor.extract(key: "traceparent", from: carrier),
            let remote = W3CTraceContext(traceparent: header, traceState: extractor.extract(key: "tracestate", from: carrier))
        else { return }
        context.w3cTraceContext = remote
    }

    public func inject<Carrier, Inject: Injector>(_ context: InstrumentationContext, into carrier: inout Carrier, using injector: Inject)
    where Inject.Carrier == Carrier {
        guard let trace = context.w3cTraceContext else { return }
        injector.inject(trace.traceparent, forKey: "traceparent", into: &carrier)
        if let state = trace.traceState, !state.isEmpty {
            injector.inject(state, forKey: "tracestate", into: &carrier)
        }
    }
}

/// A span of the ``W3CTracer``.
public struct W3CSpan: Tracing.Span {
    private struct State {
        var operationName: String
        var attributes: SpanAttributes = [:]
        var status: SpanStatus?
        var ended = false
    }

    public let context: InstrumentationContext
    public let kind: SpanKind
    public let parentSpanID: String?
    private let startNanoseconds: UInt64
    /// `nil` for a span that records nothing.
    private let state: SharedState?
    private let logger: Logger?

    /// Reference storage, so that copies of the span (it is a struct) share one state.
    private final class SharedState: Sendable {
        let value: Mutex<State>
        init(_ state: State) { value = Mutex(state) }
    }

    init(operationName: String, context: InstrumentationContext, kind: SpanKind, parentSpanID: String?, startNanoseconds: UInt64, logger: Logger) {
        self.context = context
        self.kind = kind
        self.parentSpanID = parentSpanID
        self.startNanoseconds = startNanoseconds
        self.logger = logger
        state = SharedState(State(operationName: operationName))
    }

    /// A span that only carries its trace context on.
    init(operationName: String, context: InstrumentationContext, kind: SpanKind, parentSpanID: String?) {
        self.context = context
        self.kind = kind
        self.parentSpanID = parentSpanID
        startNanoseconds = 0
        logger = nil
        state = nil
    }

    public var traceContext: W3CTraceContext? { context.w3cTraceContext }

    public var operationName: String {
        get { state?.value.withLock { $0.operationName } ?? "" }
        nonmutating set { state?.value.withLock { if !$0.ended { $0.operationName = newValue } } }
    }

    public var attributes: SpanAttributes {
        get { state?.value.withLock { $0.attributes } ?? [:] }
        nonmutating set { state?.value.withLock { if !$0.ended { $0.attributes = newValue } } }
    }

    public var isRecording: Bool { state?.value.withLock { !$0.ended } ?? false }

    public func setStatus(_ status: SpanStatus) {
        state?.value.withLock { if !$0.ended { $0.status = status } }
    }

    public func addEvent(_ event: SpanEvent) {}

    public func recordError<Instant: TracerInstant>(_ error: any Error, attributes: SpanAttributes, at instant: @autoclosure () -> Instant) {
        setStatus(SpanStatus(code: .error, message: "\(error)"))
    }

    public func addLink(_ link: SpanLink) {}

    public func end<Instant: TracerInstant>(at instant: @autoclosure () -> Instant) {
        let ended = state?.value.withLock { state -> State? in
            guard !state.ended else { return nil }
            state.ended = true
            return state
        }
        guard let ended, let logger, let trace = context.w3cTraceContext else { return }
        let elapsed = instant().nanosecondsSinceEpoch &- startNanoseconds
        logger.debug(
            "span",
            metadata: [
                "trace_id": "\(trace.traceID)", "span_id": "\(trace.spanID)", "parent_span_id": "\(parentSpanID ?? "")",
                "span_name": "\(ended.operationName)", "span_kind": "\(kind)", "duration_us": "\(elapsed / 1_000)",
                "status": "\(ended.status?.code == .error ? "error" : "ok")",
            ])
    }
}
