import Hummingbird

/// Builds the router of the payments API over a gateway.
public enum PaymentsRouter {
    public static func build(gateway: any PaymentGateway, configuration: APIConfiguration = APIConfiguration()) -> Router<DemoSyncRequestContext> {
        build(gateway: gateway, configuration: configuration, disconnects: ClientDisconnectWatcher())
    }

    static func build(gateway: any PaymentGateway, configuration: APIConfiguration, disconnects: ClientDisconnectWatcher)
        -> Router<DemoSyncRequestContext>
    {
        let router = Router(context: DemoSyncRequestContext.self)
        router.middlewares.add(JSONErrorMiddleware())
        let ledger = CaptureLedger(capacity: configuration.idempotencyCapacity, retention: configuration.idempotencyRetention)
        let payments = router.group("api/v1/payments")
        CaptureController(
            captures: IdempotentCaptures(gateway: gateway, ledger: ledger), limits: configuration.limits, disconnects: disconnects,
            metrics: CaptureMetrics()
        ).addRoutes(to: payments)
        PaymentStatusController(gateway: gateway).addRoutes(to: payments)
        HealthController(gateway: gateway).addRoutes(to: router.group("health"))
        router.refuseOtherMethods(on: "api/v1/payments/capture", allowing: [.post])
        router.refuseOtherMethods(on: "api/v1/payments/:correlation_id", allowing: [.get])
        router.refuseOtherMethods(on: "health/live", allowing: [.get])
        router.refuseOtherMethods(on: "health/ready", allowing: [.get])
        return router
    }
}

/// The API's own settings (those of the HTTP layer, not of Kafka).
public struct APIConfiguration: Sendable, Hashable {
    public var limits: HTTPLimits
    /// How many idempotency keys to remember.
    public var idempotencyCapacity: Int
    /// How long a completed capture is replayed for its key.
    public var idempotencyRetention: Duration

    public init(limits: HTTPLimits = HTTPLimits(), idempotencyCapacity: Int = 100_000, idempotencyRetention: Duration = .seconds(24 * 3_600)) {
        self.limits = limits
        self.idempotencyCapacity = idempotencyCapacity
        self.idempotencyRetention = idempotencyRetention
    }
}
