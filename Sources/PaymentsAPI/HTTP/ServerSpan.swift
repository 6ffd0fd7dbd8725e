import HTTPTypes
import Hummingbird
import Instrumentation
import Operations
import Tracing

/// The server span of one request handled outside the router (the capture fast path), with the
/// attributes Hummingbird's `TracingMiddleware` gives the router's: it continues the client's
/// W3C trace, its context is the parent of the Kafka produce span, and it names itself in the
/// `traceresponse` header. Unlike the middleware it does not become the task-local context: the
/// caller passes ``context`` on.
struct ServerSpan {
    private let span: any Span
    private let tracer: any Tracer

    init(_ request: Request, route: String, tracer: any Tracer) {
        var context = InstrumentationContext.current ?? .topLevel
        tracer.extract(request.headers, into: &context, using: HTTPFieldsExtractor())
        span = tracer.startSpan(route, context: context, ofKind: .server)
        self.tracer = tracer
        guard span.isRecording else { return }  // a span only for propagation records nothing
        span.updateAttributes { attributes in
            attributes["http.request.method"] = request.method.rawValue
            attributes["url.path"] = request.uri.path
            attributes["http.route"] = route
            attributes["user_agent.original"] = request.headers[.userAgent]
            attributes["http.request.body.size"] = request.headers[.contentLength].flatMap { Int($0) }
        }
    }

    /// The span's context, for the work done on the request's behalf.
    var context: ServiceContext { span.context }

    /// Records the response on the span, adds `traceresponse`, and ends the span.
    func end(answering response: inout Response) {
        if span.isRecording {
            let status = Int(response.status.code)
            span.attributes["http.response.status_code"] = status
            if status >= 500 { span.setStatus(.init(code: .error)) }
        }
        if let trace = TraceHeaders.traceparent(of: span.context, using: tracer) { response.headers[.traceResponse] = trace }
        span.end()
    }
}

/// Reads trace context from HTTP header fields.
struct HTTPFieldsExtractor: Extractor {
    func extract(key: String, from fields: HTTPFields) -> String? {
        HTTPField.Name(key).flatMap { fields[$0] }
    }
}
