import CoreMetrics
import Kafka
import Logging
import Payments

/// Carries captures over Kafka: produce the request, wait for the correlated reply.
///
/// Every replica reads every partition of the reply topic with a consumer that assigns them
/// itself (no consumer group), so each replica sees the replies to its own requests whatever
/// partition they land on, and ignores the others'. A shared group would split the replies
/// between replicas and leave waiters to time out.
public final class KafkaPaymentGateway: PaymentGateway {
    let configuration: GatewayConfiguration
    let producer: KafkaProducer
    let replyConsumer: KafkaConsumer
    let registry: CorrelationRegistry<CorrelationID, CaptureResponse>
    let metrics: GatewayMetrics
    private let logger: Logger

    public init(configuration: GatewayConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        // A record that cannot be delivered within the capture timeout is of no use to its
        // waiter: let librdkafka give up on it at about the same time.
        let messageTimeout = max(1_000, Int(configuration.captureTimeout.components.seconds * 1_000)
            + Int(configuration.captureTimeout.components.attoseconds / 1_000_000_000_000_000))
        producer = try KafkaProducer(
            configuration: configuration.kafka,
            componentSettings: ["message.timeout.ms": "\(messageTimeout)"],
            logger: logger)
        replyConsumer = try KafkaConsumer(
            configuration: configuration.kafka,
            subscription: .allPartitions(of: [configuration.replyTopic], from: .end),
            bufferCapacity: 10_000,
            logger: logger)
        registry = CorrelationRegistry(capacity: configuration.maxPendingCaptures)
        metrics = GatewayMetrics()
    }

    public var readiness: GatewayReadiness {
        if case .unreachable(let reason) = producer.connectivity.current {
            return .notReady(reason: "Kafka brokers unreachable: \(reason)")
        }
        if producer.connectivity.current == .unknown {
            return .notReady(reason: "not connected to Kafka yet")
        }
        if !replyConsumer.isPositioned {
            return .notReady(reason: "reply consumer not positioned on \(configuration.replyTopic) yet")
        }
        return .ready
    }

    /// Captures waiting for their reply now.
    public var pendingCaptures: Int { registry.pendingCount }

    public func capture(_ request: CaptureRequest, correlationID: CorrelationID) async throws(CaptureError) -> CaptureResponse {
        if case .notReady(let reason) = readiness { throw .unavailable(reason: reason) }
        let record: KafkaRecord
        do {
            record = try PaymentRequestMessage(correlationID: correlationID, request: request).record(topic: configuration.requestTopic)
        } catch {
            throw .unavailable(reason: "cannot encode the request: \(error)")
        }
        let producer = self.producer
        let logger = self.logger
        do {
            return try await registry.waitForReply(to: correlationID, timeout: configuration.captureTimeout) {
                do {
                    try await producer.send(record)
                } catch let error as KafkaError where !error.isDefinitelyNotDelivered {
                    // The record may be in the topic: its reply may still come, so keep waiting
                    // rather than tell the client a capture that may happen did not.
                    logger.warning(
                        "request delivery uncertain; still waiting for a reply",
                        metadata: ["correlation_id": "\(correlationID)", "kafka.error": "\(error)"])
                }
            }
        } catch let error as KafkaError {
            metrics.produceFailures.increment()
            throw .unavailable(reason: "the request could not be sent to Kafka: \(error.message)")
        } catch let failure as CorrelationFailure {
            switch failure {
            case .timedOut: throw .timedOut(correlationID)
            case .cancelled: throw .clientGone(correlationID)
            case .shuttingDown: throw .shuttingDown(correlationID)
            case .capacityExceeded(let limit): throw .overloaded(limit: limit)
            case .duplicateKey: throw .unavailable(reason: "correlation id collision; retry")
            case .failed(let reason): throw .processorError(correlationID, reason: reason)
            }
        } catch {
            throw .unavailable(reason: "\(error)")
        }
    }

    /// Reads replies and hands each to its waiter until the reply consumer is closed.
    func deliverReplies() async {
        for await message in replyConsumer.messages {
            guard let correlationID = PaymentReplyMessage.correlationID(of: message) else {
                metrics.unparseableReplies.increment()
                logger.warning(
                    "reply without a correlation id; dropped",
                    metadata: ["kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)"])
                continue
            }
            let response: CaptureResponse
            do {
                response = try PaymentReplyMessage.decode(message, correlationID: correlationID)
            } catch {
                metrics.unparseableReplies.increment()
                logger.warning("unparseable reply; failing its waiter", metadata: ["correlation_id": "\(correlationID)", "error": "\(error)"])
                await registry.fail(correlationID, with: .failed(reason: "the processor's reply could not be read: \(error)"))
                continue
            }
            switch await registry.complete(correlationID, with: response) {
            case .delivered:
                break
            case .late:
                metrics.lateReplies.increment()
                logger.info(
                    "late reply: its capture had already ended",
                    metadata: ["correlation_id": "\(correlationID)", "transaction_id": "\(response.transactionID)", "status": "\(response.status)"])
            case .unmatched:
                // Normal with several replicas: every replica reads every reply.
                metrics.unmatchedReplies.increment()
                logger.trace("reply for another replica", metadata: ["correlation_id": "\(correlationID)"])
            }
        }
    }

    /// Creates the request and reply topics if they are missing, retrying until it succeeds
    /// or the task is cancelled.
    func provisionTopics() async {
        guard configuration.createTopics else { return }
        let topics = [configuration.requestTopic, configuration.replyTopic].map {
            KafkaTopicSpecification(name: $0, partitions: configuration.topicPartitions)
        }
        var attempt = 0
        while !Task.isCancelled {
            do {
                let created = try await producer.admin.createTopicsIfMissing(topics)
                if !created.isEmpty { logger.info("created topics", metadata: ["topics": "\(created.joined(separator: ","))"]) }
                return
            } catch {
                attempt += 1
                logger.log(level: attempt == 1 ? .warning : .debug, "cannot create topics yet; retrying", metadata: ["kafka.error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// Ends every capture still waiting (they answer 503), then closes the consumer and
    /// flushes and closes the producer.
    func shutdown() async {
        await registry.shutdown()
        await replyConsumer.close()
        await producer.close()
    }
}
