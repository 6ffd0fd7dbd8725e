import HTTPTypes
import Hummingbird
import Instrumentation
import Operations

/// Answers with a `traceresponse` header (W3C Trace Context level 2) naming the trace and the
/// server span that handled the request, so a client can find its capture in the traces.
struct TraceResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let trace = InstrumentationContext.current.flatMap { TraceHeaders.traceparent(of: $0) }
        do {
            var response = try await next(request, context)
            if let trace { response.headers[.traceResponse] = trace }
            return response
        } catch let error as APIError {
            var error = error
            if let trace { error.headers[.traceResponse] = trace }
            throw error
        }
    }
}

extension HTTPField.Name {
    static let traceResponse = Self("traceresponse")!
}
