import CoreMetrics
import Dispatch
import Instrumentation
import Kafka
import Logging
import Payments
import PaymentsWire
import Synchronization
import Tracing

/// Carries each request from the consumer to its committed reply, without a task or a
/// continuation per request.
///
/// The ``SimulatorStateMachine`` decides; this type does what it says, outside the lock: decide a
/// verdict, journal it, produce the reply, acknowledge the request. Each Kafka step hands its
/// record to librdkafka and continues in the delivery callback, on the producer's polling
/// thread. A request is acknowledged (so its offset becomes committable) only once its reply is
/// acknowledged by the broker, and its verdict was journaled before that reply was sent.
///
/// At most ``SimulatorConfiguration/concurrency`` requests are in progress; ``admit(_:)`` makes
/// the reader wait beyond that, and the consumer pauses its partitions when its own buffer fills.
final class RequestPipeline: Sendable {
    /// What finishing a request needs besides the request itself.
    struct Token: Sendable {
        let message: KafkaMessage
        /// The simulator's span, a child of the requester's: the reply carries it on.
        let span: any Span
    }

    private typealias Machine = SimulatorStateMachine<Token>
    private typealias Request = Machine.Request

    private struct State {
        var machine: Machine
        /// Requests taken from the consumer and not finished yet.
        var inProgress = 0
        /// The reader, waiting for room (``admit(_:)``) or for everything to finish (``drain()``).
        var roomWaiter: (needed: Int, continuation: CheckedContinuation<Void, Never>)?
        var delayTimerArmed = false
        var stopping = false
        /// Signalled when nothing is in progress, for ``finishInProgress(within:)``.
        var idleSignal: DispatchSemaphore?
    }

    private let state: Mutex<State>
    private let configuration: SimulatorConfiguration
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let journal: VerdictJournal
    private let verdicts: VerdictGenerator
    private let metrics: SimulatorMetrics
    private let logger: Logger
    private let wallClock: @Sendable () -> Int64
    /// The bootstrapped tracer, looked up once: `InstrumentationSystem` takes a lock and searches
    /// its instruments on every use (3% of the simulator's CPU, three uses per request).
    private let tracer: any Tracer = InstrumentationSystem.tracer

    init(
        configuration: SimulatorConfiguration, consumer: KafkaConsumer, producer: KafkaProducer, journal: VerdictJournal,
        verdicts: VerdictGenerator, metrics: SimulatorMetrics, logger: Logger, wallClock: @escaping @Sendable () -> Int64
    ) {
        self.configuration = configuration
        self.consumer = consumer
        self.producer = producer
        self.journal = journal
        self.verdicts = verdicts
        self.metrics = metrics
        self.logger = logger
        self.wallClock = wallClock
        state = Mutex(State(machine: Machine(processingDelay: configuration.processingDelay, verdictCapacity: configuration.verdictCapacity)))
    }

    /// Requests in progress.
    var inProgress: Int { state.withLock { $0.inProgress } }

    // MARK: The reader's side

    /// Waits until at least one more request may start, and returns how many may.
    func admit() async -> Int {
        let limit = configuration.concurrency
        await withCheckedContinuation { continuation in
            let wakeNow = state.withLock { state in
                guard state.inProgress >= limit else { return true }
                state.roomWaiter = (limit - 1, continuation)
                return false
            }
            if wakeNow { continuation.resume() }
        }
        return max(1, limit - inProgress)
    }

    /// Starts a batch of requests read from the consumer.
    func start(_ batch: [KafkaMessage]) {
        let wall = wallClock()
        let now = MonotonicTime.now()
        var actions: [Machine.Action] = []
        var malformed: [KafkaMessage] = []
        var requests: [Request] = []
        requests.reserveCapacity(batch.count)
        for message in batch {
            do {
                let received = try ReceivedPaymentRequest(message)
                requests.append(Request(received: received, token: Token(message: message, span: span(for: message))))
            } catch {
                malformed.append(message)
                metrics.malformed.increment()
                logger.warning(
                    "malformed request skipped",
                    metadata: ["kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)", "error": "\(error)"])
            }
        }
        let (armTimer, inProgress) = state.withLock { state -> (Bool, Int) in
            state.inProgress += requests.count
            for request in requests {
                if let action = state.machine.receive(request, wallClock: wall, now: now) { actions.append(action) }
            }
            guard !state.delayTimerArmed, state.machine.nextDue != nil else { return (false, state.inProgress) }
            state.delayTimerArmed = true
            return (true, state.inProgress)
        }
        for message in malformed { consumer.acknowledge(message) }
        perform(actions, inProgress: inProgress)
        if armTimer { startDelayTimer() }
    }

    /// Waits until every request started has finished (graceful shutdown, after the consumer
    /// stopped delivering). Retries give up early from now on.
    func drain() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                state.stopping = true
                guard state.inProgress > 0 else { return true }
                state.roomWaiter = (0, continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Blocks the calling thread (never a task's) until every request started has finished, or
    /// `timeout` passes; returns whether they all finished. The consumer's revocation hook: what
    /// was started of partitions about to go to another simulator is finished and committed here
    /// rather than decided twice.
    func finishInProgress(within timeout: Duration) -> Bool {
        let signal = state.withLock { state -> DispatchSemaphore? in
            guard state.inProgress > 0 else { return nil }
            let signal = state.idleSignal ?? DispatchSemaphore(value: 0)
            state.idleSignal = signal
            return signal
        }
        guard let signal else { return true }
        let finished = signal.wait(timeout: .now() + .milliseconds(Int(timeout.wholeMilliseconds))) == .success
        state.withLock { $0.idleSignal = nil }
        return finished
    }

    /// A verdict read from the journal.
    func learn(_ verdict: Verdict, for transactionID: String) {
        state.withLock { $0.machine.learn(verdict, for: transactionID) }
    }

    // MARK: Steps

    /// Starts `actions`; `inProgress` (requests taken and not finished, these included) decides
    /// whether their records may linger to share produce requests (``RecordBatching``).
    private func perform(_ actions: [Machine.Action], inProgress: Int) {
        let mayLinger = RecordBatching.mayLinger(othersInProgress: inProgress - 1)
        for action in actions {
            switch action {
            case .decide(let request): decide(request, mayLinger: mayLinger)
            case .reply(let request, let answer): reply(request, answer, mayLinger: mayLinger)
            }
        }
    }

    private func decide(_ request: Request, mayLinger: Bool) {
        let received = request.received
        let verdict = Verdict(verdicts.verdict(correlationID: received.correlationID, transactionID: received.transactionID))
        journal(verdict, for: request, attempt: 1, mayLinger: mayLinger)
    }

    private func journal(_ verdict: Verdict, for request: Request, attempt: Int, mayLinger: Bool = false) {
        let onFailure: @Sendable (KafkaError) -> Void = { [self] error in
            retry(.journal, request, attempt: attempt, error: error) { self.journal(verdict, for: request, attempt: attempt + 1) }
        }
        do throws(KafkaError) {
            try journal.record(verdict, for: request.received.transactionID, mayLinger: mayLinger) { [self] outcome in
                switch outcome {
                case .success:
                    metrics.answered.increment()
                    let (actions, inProgress) = state.withLock { ($0.machine.decided(verdict, for: request), $0.inProgress) }
                    perform(actions, inProgress: inProgress)
                case .failure(let error):
                    onFailure(error)
                }
            }
        } catch {
            onFailure(error)
        }
    }

    private func reply(
        _ request: Request, _ answer: Machine.Answer, destination: ReplyDestination? = nil, attempt: Int = 1, mayLinger: Bool = false
    ) {
        let received = request.received
        let fallback = ReplyDestination(topic: configuration.topics.reply)
        let target = destination ?? received.replyTo ?? fallback
        let response: CaptureResponse
        switch answer {
        case .verdict(let verdict, let repeated):
            if repeated, attempt == 1 { metrics.repeated.increment() }
            response = verdict.response(correlationID: received.correlationID, transactionID: received.transactionID)
        case .expired:
            if attempt == 1 { metrics.expired.increment() }
            response = .expired(correlationID: received.correlationID, transactionID: received.transactionID)
        }
        request.token.span.attributes["capture.status"] = response.status.text
        var record = PaymentReplyMessage.record(response, to: target, idempotencyKey: received.idempotencyKey)
        // The reply's own span, a child of the request's: the reply record carries it back to serve.
        let span = tracer.startSpan("produce capture reply", context: request.token.span.context, ofKind: .producer)
        if span.isRecording {
            span.attributes["messaging.system"] = "kafka"
            span.attributes["messaging.destination.name"] = target.topic
            span.attributes["capture.status"] = response.status.text
        }
        tracer.inject(span.context, into: &record.headers, using: KafkaHeadersInjector())
        let onFailure: @Sendable (KafkaError) -> Void = { [self] error in
            span.setStatus(SpanStatus(code: .error, message: "\(error)"))
            span.end()
            if target != fallback, error.isUnknownDestination {
                logger.warning(
                    "requested reply destination does not exist; replying on the default topic",
                    metadata: ["reply_to": "\(target)", "correlation_id": "\(received.correlationID)"])
                reply(request, answer, destination: fallback, attempt: attempt + 1)
                return
            }
            retry(.reply, request, attempt: attempt, error: error) { self.reply(request, answer, destination: target, attempt: attempt + 1) }
        }
        do throws(KafkaError) {
            try producer.produce(record, mayLinger: mayLinger) { [self] outcome in
                switch outcome {
                case .success:
                    span.end()
                    finish(request, acknowledging: true)
                case .failure(let error): onFailure(error)
                }
            }
        } catch {
            onFailure(error)
        }
    }

    /// The Kafka steps of a request, for retries and logs.
    private enum Step: String {
        case journal = "journal verdict"
        case reply
    }

    /// Tries a failed step again with exponential back-off (100 ms doubling to 5 s): a request
    /// must not be committed before its verdict and reply are durable. During shutdown it gives
    /// up after three attempts and leaves the request uncommitted, for the next simulator.
    private func retry(_ step: Step, _ request: Request, attempt: Int, error: KafkaError, _ again: @escaping @Sendable () -> Void) {
        metrics.replyFailures.increment()
        let metadata: Logger.Metadata = ["correlation_id": "\(request.received.correlationID)", "error": "\(error)"]
        if state.withLock({ $0.stopping }), attempt >= 3 {
            logger.warning("\(step.rawValue) not acknowledged; left for the next simulator", metadata: metadata)
            let abandoned = step == .journal ? state.withLock { $0.machine.abandonDecision(for: request) } : [request]
            for request in abandoned { finish(request, acknowledging: false) }
            return
        }
        logger.warning("\(step.rawValue) not acknowledged; retrying", metadata: metadata)
        let delay = Duration.milliseconds(min(5_000, 100 << min(attempt - 1, 6)))
        Task {
            try? await Task.sleep(for: delay)
            again()
        }
    }

    /// A request is done: acknowledged (its reply is durable) or left for the next owner.
    private func finish(_ request: Request, acknowledging: Bool) {
        request.token.span.end()
        if acknowledging { consumer.acknowledge(request.token.message) }
        let (waiter, idle) = state.withLock { state -> (CheckedContinuation<Void, Never>?, DispatchSemaphore?) in
            state.inProgress -= 1
            let idle = state.inProgress == 0 ? state.idleSignal : nil
            guard let waiter = state.roomWaiter, state.inProgress <= waiter.needed else { return (nil, idle) }
            state.roomWaiter = nil
            return (waiter.continuation, idle)
        }
        waiter?.resume()
        idle?.signal()
        if acknowledging {
            logger.debug("request answered", metadata: ["correlation_id": "\(request.received.correlationID)", "transaction_id": "\(request.received.transactionID)"])
        }
    }

    /// Serves the processing delay: one task sleeps until the earliest delayed request is due,
    /// decides what is due, and sleeps again while any remain.
    private func startDelayTimer() {
        Task { [self] in
            while true {
                let next = state.withLock { state -> Duration? in
                    if let due = state.machine.nextDue { return due }
                    state.delayTimerArmed = false
                    return nil
                }
                guard let next else { return }
                let remaining = next - MonotonicTime.now()
                if remaining > .zero { try? await Task.sleep(for: remaining) }  // not cancelled: a started request is finished
                let (actions, inProgress) = state.withLock { ($0.machine.due(now: MonotonicTime.now()), $0.inProgress) }
                perform(actions, inProgress: inProgress)
            }
        }
    }

    /// The simulator's span for a request: a child of the span that produced it.
    private func span(for message: KafkaMessage) -> any Span {
        var parent = InstrumentationContext.topLevel
        tracer.extract(message.headers, into: &parent, using: KafkaHeadersExtractor())
        return tracer.startSpan("process capture request", context: parent, ofKind: .consumer)
    }
}
