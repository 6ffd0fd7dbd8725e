import Logging
import Synchronization

/// Keeps an application's topics in place: whenever the brokers become reachable (at start-up,
/// and after every outage, since a broker without persistent storage comes back empty) it
/// creates the missing ones, retrying every second until it succeeds.
public final class TopicProvisioner: Sendable {
    private let producer: KafkaProducer
    private let topics: [KafkaTopicSpecification]
    private let createMissing: Bool
    private let logger: Logger
    private let ready = Atomic(false)

    /// - Parameters:
    ///   - producer: whose connection creates the topics and whose connectivity is followed.
    ///   - createMissing: `false` only checks that the topics exist (when they are managed
    ///     elsewhere).
    public init(producer: KafkaProducer, topics: [KafkaTopicSpecification], createMissing: Bool, logger: Logger) {
        self.producer = producer
        self.topics = topics
        self.createMissing = createMissing
        self.logger = logger
    }

    /// Whether the topics have been confirmed. It stays true across reconnections while they are
    /// checked again in the background: a broker that lost them makes sends fail at once (as
    /// "not delivered"), and refusing everything while a busy broker answers the check slowly
    /// would only turn load into errors.
    public var isReady: Bool { ready.load(ordering: .relaxed) }

    /// Runs until cancelled. `confirmed` runs after each successful check (to read what depends
    /// on the topics, such as partition counts); if it throws, the check is retried.
    public func run(confirmed: @Sendable () async throws -> Void = {}) async {
        for await reachable in producer.connectivity.changes() where reachable {
            await ensure(confirmed: confirmed)
        }
    }

    private func ensure(confirmed: @Sendable () async throws -> Void) async {
        var attempt = 0
        while !Task.isCancelled, producer.connectivity.isReachable {
            do {
                if createMissing {
                    let created = try await producer.admin.createTopicsIfMissing(topics)
                    if !created.isEmpty { logger.info("created topics", metadata: ["topics": "\(created.joined(separator: ","))"]) }
                } else {
                    for topic in topics where try await producer.admin.partitionCount(of: topic.name) == nil {
                        throw KafkaError.unknownTopic(topic.name)
                    }
                }
                try await confirmed()
                ready.store(true, ordering: .relaxed)
                return
            } catch {
                attempt += 1
                logger.log(level: attempt == 1 ? .warning : .debug, "topics not ready yet; retrying", metadata: ["kafka.error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
