import Hummingbird

/// Builds the router of the payments API over a gateway.
public enum PaymentsRouter {
    public static func build(gateway: any PaymentGateway, limits: HTTPLimits = HTTPLimits()) -> Router<DemoSyncRequestContext> {
        build(gateway: gateway, limits: limits, disconnects: ClientDisconnectWatcher())
    }

    static func build(gateway: any PaymentGateway, limits: HTTPLimits, disconnects: ClientDisconnectWatcher) -> Router<DemoSyncRequestContext> {
        let router = Router(context: DemoSyncRequestContext.self)
        CaptureController(gateway: gateway, limits: limits, disconnects: disconnects, metrics: CaptureMetrics())
            .addRoutes(to: router.group("api/v1/payments"))
        HealthController(gateway: gateway).addRoutes(to: router.group("health"))
        return router
    }
}
