import CoreMetrics
import Kafka
import Logging
import Payments
import ServiceLifecycle
import Synchronization

/// Stands in for the card network: consumes capture requests in a consumer group, waits the
/// processing delay, and answers each on the reply topic, keyed and headed with its
/// correlation id.
///
/// Many requests are processed at once, up to ``SimulatorConfiguration/concurrency``; beyond
/// that the consumer pauses, so a backlog costs no memory. A request's offset is committed only
/// after its reply is acknowledged by the broker, so a crash means re-processing, never a
/// request without an answer. A malformed request is logged, counted and skipped.
public final class ProcessorSimulator: Service {
    private let configuration: SimulatorConfiguration
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let verdicts: VerdictGenerator
    private let metrics = SimulatorMetrics()
    private let logger: Logger
    private let inFlight = Atomic(0)

    public init(configuration: SimulatorConfiguration, verdicts: VerdictGenerator? = nil, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        self.verdicts = verdicts ?? VerdictGenerator(approvalRate: configuration.approvalRate)
        producer = try KafkaProducer(configuration: configuration.kafka, logger: logger)
        consumer = try KafkaConsumer(
            configuration: configuration.kafka,
            subscription: .group(id: configuration.groupID, topics: [configuration.requestTopic]),
            // A new group starts from the oldest request still in the topic: requests made while
            // no simulator ran are answered, not skipped.
            componentSettings: ["auto.offset.reset": "earliest"],
            bufferCapacity: max(1, configuration.concurrency),
            logger: logger)
    }

    /// Whether the simulator has partitions to work on and reaches the brokers.
    public var isReady: Bool { consumer.isPositioned && producer.connectivity.isReachable }

    /// Requests being processed now.
    public var requestsInFlight: Int { inFlight.load(ordering: .relaxed) }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.provisionTopics() }
        let slots = ConcurrencyLimit(configuration.concurrency)
        // On graceful shutdown stop taking requests, but finish every request already started:
        // its reply is produced and its offset committed before the consumer closes.
        await withDiscardingTaskGroup { group in
            await withGracefulShutdownHandler {
                for await message in consumer.messages {
                    await slots.acquire()
                    inFlight.add(1, ordering: .relaxed)
                    metrics.inFlight.record(inFlight.load(ordering: .relaxed))
                    group.addTask {
                        if await self.process(message) {
                            self.consumer.acknowledge(message)
                        }
                        self.inFlight.subtract(1, ordering: .relaxed)
                        slots.release()
                    }
                }
            } onGracefulShutdown: { [consumer] in
                consumer.stopDelivering()
            }
        }
        await consumer.close()
        await producer.close()
        logger.info("simulator stopped")
    }

    /// Answers one request. Returns `true` once the reply is acknowledged (or the request is
    /// skipped as malformed), meaning its offset may be committed.
    private func process(_ message: KafkaMessage) async -> Bool {
        let request: ReceivedPaymentRequest
        do {
            request = try ReceivedPaymentRequest(message)
        } catch {
            metrics.malformed.increment()
            logger.warning(
                "malformed request skipped",
                metadata: ["kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)", "error": "\(error)"])
            return true
        }
        if configuration.processingDelay > .zero {
            // Not cancelled on shutdown: a started request is finished.
            try? await Task.sleep(for: configuration.processingDelay)
        }
        let response = verdicts.verdict(correlationID: request.correlationID, transactionID: request.transactionID)
        guard await reply(response) else { return false }
        metrics.processed.increment()
        logger.debug(
            "request answered",
            metadata: [
                "correlation_id": "\(request.correlationID)", "transaction_id": "\(request.transactionID)", "status": "\(response.status)",
            ])
        return true
    }

    /// Produces the reply, retrying until the broker acknowledges it: an unanswered request must
    /// not be committed. During shutdown it gives up after a few attempts and returns `false`,
    /// leaving the request uncommitted for the next simulator to answer.
    private func reply(_ response: CaptureResponse) async -> Bool {
        var delay = Duration.milliseconds(100)
        var attempts = 0
        while true {
            do {
                try await producer.send(PaymentReplyMessage.record(response, topic: configuration.replyTopic))
                return true
            } catch {
                attempts += 1
                if Task.isShuttingDownGracefully, attempts >= 3 { return false }
                metrics.replyFailures.increment()
                logger.warning("reply not delivered; retrying", metadata: ["correlation_id": "\(response.correlationID)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }

    private func provisionTopics() async {
        guard configuration.createTopics else { return }
        let topics = [configuration.requestTopic, configuration.replyTopic].map {
            KafkaTopicSpecification(name: $0, partitions: configuration.topicPartitions)
        }
        var attempt = 0
        while !Task.isCancelled {
            do {
                try await producer.admin.createTopicsIfMissing(topics)
                return
            } catch {
                attempt += 1
                logger.log(level: attempt == 1 ? .warning : .debug, "cannot create topics yet; retrying", metadata: ["kafka.error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
