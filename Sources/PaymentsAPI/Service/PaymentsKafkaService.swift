import Logging
import Payments
import ServiceLifecycle

/// Runs the gateway's background work beside the HTTP server: the correlation registry's loop,
/// topic provisioning and reply delivery. On graceful shutdown (after the server has stopped
/// taking requests and finished the ones in flight) it ends what is still waiting and closes the
/// Kafka clients.
public struct PaymentsKafkaService: Service {
    let gateway: KafkaPaymentGateway

    public init(gateway: KafkaPaymentGateway) {
        self.gateway = gateway
    }

    public func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await gateway.registry.run() }
            group.addTask { await gateway.deliverReplies() }
            group.addTask { await gateway.observeRequests() }
            group.addTask { await cancelWhenGracefulShutdown { await gateway.loadHistory() } }
            group.addTask { await cancelWhenGracefulShutdown { await gateway.refreshRequestPartitions() } }
            group.addTask { await cancelWhenGracefulShutdown { await gateway.provisionTopics() } }
            group.addTask {
                try? await gracefulShutdown()
                await gateway.shutdown()
            }
        }
    }
}
