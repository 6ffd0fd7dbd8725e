import CoreMetrics
import Instrumentation
import Kafka
import Logging
import Operations
import Payments
import Synchronization
import Tracing

/// Carries captures over Kafka: produce the request, wait for the correlated reply.
///
/// By default every replica reads every partition of the reply topic with a consumer that
/// assigns them itself (no consumer group), so each replica sees the replies to its own requests
/// whatever partition they land on, and ignores the others'. A shared group would split the
/// replies between replicas and leave waiters to time out. See ``ReplyRouting`` for the modes in
/// which a replica owns a partition or a topic instead.
///
/// Every reply seen is also kept, bounded in number and age, so that the outcome of a capture
/// that timed out can be asked for later.
public final class KafkaPaymentGateway: PaymentGateway {
    let configuration: GatewayConfiguration
    let producer: KafkaProducer
    let replyConsumer: KafkaConsumer
    let registry: CorrelationRegistry<CorrelationID, CaptureResponse>
    let outcomes: BoundedStore<CorrelationID, CaptureResponse>
    let metrics: GatewayMetrics
    private let logger: Logger
    /// Partitions of the request topic, once known (0 before): requests are spread over them by
    /// idempotency key.
    private let requestPartitions = Atomic(0)
    /// Keeps the request and reply topics in place across broker outages.
    private let provisioner: TopicProvisioner
    /// Set when graceful shutdown begins: new captures are refused while those in flight finish.
    private let draining = Atomic(false)

    public init(configuration: GatewayConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        // A record that cannot be delivered within the capture timeout is of no use to its
        // waiter: let librdkafka give up on it at about the same time.
        let producerStatistics = KafkaStatisticsMetrics(client: "producer")
        producer = try KafkaProducer(
            configuration: configuration.kafka,
            componentSettings: ["message.timeout.ms": "\(max(1_000, configuration.captureTimeout.wholeMilliseconds))"],
            logger: logger,
            statisticsHandler: { producerStatistics.record($0) })
        let consumerStatistics = KafkaStatisticsMetrics(client: "reply-consumer")
        replyConsumer = try KafkaConsumer(
            configuration: configuration.kafka,
            subscription: configuration.replyRouting.subscription(sharedReplyTopic: configuration.topics.reply),
            // A partition whose offset the broker no longer has (a broker that lost its data, or
            // retention) restarts from its beginning: an extra reply is ignored, a missed one is
            // a capture that times out.
            componentSettings: ["auto.offset.reset": "earliest"],
            bufferCapacity: 10_000,
            logger: logger,
            statisticsHandler: { consumerStatistics.record($0) })
        var ownTopic: [KafkaTopicSpecification] = []
        if case .ownedTopic(let topic) = configuration.replyRouting {
            ownTopic.append(KafkaTopicSpecification(name: topic, partitions: 1))
        }
        provisioner = TopicProvisioner(
            producer: producer, topics: configuration.topics.specifications(adding: ownTopic),
            createMissing: configuration.topics.createMissing, logger: logger)
        registry = CorrelationRegistry(capacity: configuration.maxPendingCaptures)
        outcomes = BoundedStore(capacity: configuration.outcomeCapacity, maximumAge: configuration.outcomeRetention)
        metrics = GatewayMetrics()
    }

    public var readiness: Readiness {
        if draining.load(ordering: .relaxed) { return .notReady(reason: "shutting down") }
        switch producer.connectivity.current {
        case .unreachable(let reason): return .notReady(reason: "Kafka brokers unreachable: \(reason)")
        case .unknown: return .notReady(reason: "not connected to Kafka yet")
        case .reachable: break
        }
        if !provisioner.isReady {
            return .notReady(reason: "topics not confirmed on the brokers yet")
        }
        if !replyConsumer.isPositioned {
            return .notReady(reason: "reply consumer not positioned yet")
        }
        return .ready
    }

    /// Refuses new captures from now on (graceful shutdown); those in flight go on.
    public func beginDraining() {
        draining.store(true, ordering: .relaxed)
    }

    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Captures waiting for their reply now.
    public var pendingCaptures: Int { registry.pendingCount }

    public func capture(_ request: CaptureRequest, correlationID: CorrelationID, idempotencyKey: String?) async throws(CaptureError)
        -> CaptureResponse
    {
        if isDraining { throw .shuttingDown(nil) }
        if case .notReady(let reason) = readiness { throw .unavailable(reason: reason) }
        let partitions = requestPartitions.load(ordering: .relaxed)
        let routing = RequestRouting(
            // By transaction id, which is what the processor deduplicates on: every request for one
            // transaction reaches the same partition, so the same processor, whatever its key.
            partition: partitions > 0 ? StablePartitioner.partition(for: request.transactionID, count: partitions) : nil,
            deadlineMilliseconds: WallClock.nowMilliseconds() + configuration.captureTimeout.wholeMilliseconds,
            replyTo: configuration.replyRouting.replyDestination(sharedReplyTopic: configuration.topics.reply),
            idempotencyKey: idempotencyKey)
        var record: KafkaRecord
        do {
            record = try PaymentRequestMessage(correlationID: correlationID, request: request).record(topic: configuration.topics.request, routing: routing)
        } catch {
            throw .unavailable(reason: "cannot encode the request: \(error)")
        }
        // The request carries the trace on to the processor, as a child of the HTTP request's span.
        let span = startSpan("produce capture request", ofKind: .producer)
        defer { span.end() }
        InstrumentationSystem.instrument.inject(span.context, into: &record.headers, using: KafkaHeadersInjector())
        let sending = record
        let producer = self.producer
        let logger = self.logger
        do {
            return try await registry.waitForReply(to: correlationID, timeout: configuration.captureTimeout) {
                do {
                    try await producer.send(sending)
                } catch let error as KafkaError where !error.isDefinitelyNotDelivered {
                    // The record may be in the topic: its reply may still come, so keep waiting
                    // rather than tell the client a capture that may happen did not.
                    logger.warning(
                        "request delivery uncertain; still waiting for a reply",
                        metadata: ["correlation_id": "\(correlationID)", "kafka.error": "\(error)"])
                } catch {
                    // Refused as not sent (the client hears 503), or, if its wait has ended, the
                    // only trace of why the capture timed out.
                    logger.warning("request not delivered", metadata: ["correlation_id": "\(correlationID)", "kafka.error": "\(error)"])
                    throw error
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

    public func lookUp(_ correlationID: CorrelationID) async -> PaymentLookup {
        if let response = outcomes.value(for: correlationID) { return .final(response) }
        // Still waiting, or gave up waiting but the request was sent: the answer may yet come
        // (or the processor answers "expired" once it sees the request past its deadline).
        if await registry.isWaiting(for: correlationID) { return .pending }
        if await registry.recentlyGaveUp(on: correlationID) { return .pending }
        return .unknown
    }

    /// Reads replies and hands each to its waiter until the reply consumer is closed.
    func deliverReplies() async {
        for await message in replyConsumer.messages {
            await deliver(message)
        }
    }

    private func deliver(_ message: KafkaMessage) async {
        guard let correlationID = PaymentReplyMessage.correlationID(of: message) else {
            metrics.unparseableReplies.increment()
            logger.warning(
                "reply without a correlation id; dropped",
                metadata: ["kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)"])
            return
        }
        let response: CaptureResponse
        do {
            response = try PaymentReplyMessage.decode(message, correlationID: correlationID)
        } catch {
            metrics.unparseableReplies.increment()
            logger.warning("unparseable reply; failing its waiter", metadata: ["correlation_id": "\(correlationID)", "error": "\(error)"])
            await registry.fail(correlationID, with: .failed(reason: "the processor's reply could not be read: \(error)"))
            return
        }
        outcomes.insert(response, for: correlationID)
        switch await registry.complete(correlationID, with: response) {
        case .delivered:
            break
        case .late:
            metrics.lateReplies.increment()
            logger.info(
                "late reply kept: its capture had already ended",
                metadata: ["correlation_id": "\(correlationID)", "transaction_id": "\(response.transactionID)", "status": "\(response.status)"])
        case .unmatched:
            // Normal with several replicas reading every reply: it is another replica's.
            metrics.unmatchedReplies.increment()
            logger.trace("reply for another replica", metadata: ["correlation_id": "\(correlationID)"])
        }
    }

    /// Keeps the topics in place and learns how many partitions the request topic has, after
    /// start-up and after every broker outage. Runs until cancelled.
    func provisionTopics() async {
        await provisioner.run { [self] in
            guard let count = try await producer.admin.partitionCount(of: configuration.topics.request) else {
                throw KafkaError.unknownTopic(configuration.topics.request)
            }
            requestPartitions.store(count, ordering: .relaxed)
        }
    }

    /// Brings the gauges that are read rather than pushed up to date (called before each scrape).
    public func recordGauges() {
        metrics.pending.record(registry.pendingCount)
    }

    /// Ends every capture still waiting (they answer 503), then closes the consumer and
    /// flushes and closes the producer.
    func shutdown() async {
        await registry.shutdown()
        await replyConsumer.close()
        await producer.close()
    }
}

extension Duration {
    /// Whole milliseconds.
    var wholeMilliseconds: Int64 {
        components.seconds * 1_000 + components.attoseconds / 1_000_000_000_000_000
    }
}
