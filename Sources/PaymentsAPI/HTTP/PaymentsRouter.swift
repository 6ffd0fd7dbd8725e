import Hummingbird
import Operations

/// Builds the router of the payments API over a gateway.
public enum PaymentsRouter {
    public static func build(
        gateway: any PaymentGateway, configuration: APIConfiguration = APIConfiguration(), operations: OperationsRoutes? = nil
    ) -> Router<DemoSyncRequestContext> {
        build(gateway: gateway, configuration: configuration, operations: operations, disconnects: ClientDisconnectWatcher())
    }

    static func build(
        gateway: any PaymentGateway, configuration: APIConfiguration, operations: OperationsRoutes?, disconnects: ClientDisconnectWatcher
    ) -> Router<DemoSyncRequestContext> {
        let router = Router(context: DemoSyncRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        router.middlewares.add(TracingMiddleware())
        router.middlewares.add(TraceResponseMiddleware())
        if !configuration.authTokens.isEmpty {
            // At the router, not the group, so that every /api/ path is covered, unknown ones and
            // wrong methods included: nothing about the API is told to an unauthenticated client.
            router.middlewares.add(BearerTokenMiddleware(authentication: BearerAuthentication(tokens: configuration.authTokens, protectedPathPrefix: "/api/")))
        }

        let payments = router.group("api/v1/payments")
        CaptureEndpoint(gateway: gateway, configuration: configuration, disconnects: disconnects).addRoute(to: payments)
        PaymentStatusController(registry: gateway.registry, maximumWait: configuration.maximumStatusWait).addRoutes(to: payments)

        (operations ?? OperationsRoutes(readiness: { gateway.readiness }, metrics: MetricsExport())).add(to: router)

        return router
    }
}

/// The API's own settings (those of the HTTP layer, not of Kafka).
public struct APIConfiguration: Sendable, Hashable {
    public var limits: HTTPLimits
    /// Bearer tokens accepted on `/api/`; empty for no authentication.
    public var authTokens: [String]
    /// The longest an outcome lookup holds for a verdict when its client asks to (`Prefer: wait`).
    public var maximumStatusWait: Duration

    public init(limits: HTTPLimits = HTTPLimits(), authTokens: [String] = [], maximumStatusWait: Duration = .seconds(30)) {
        self.limits = limits
        self.authTokens = authTokens
        self.maximumStatusWait = maximumStatusWait
    }
}
