import DequeModule
import Payments
import PaymentsWire

/// What the simulator does with each request, as a pure value: ``RequestPipeline`` owns one
/// under a lock, calls its mutating methods and carries out the actions they return (decide a
/// verdict, journal it, reply) after releasing the lock. Tests drive it directly.
///
/// - A transaction with a known verdict gets it again (`repeated`).
/// - A request read after its deadline is answered `expired`, not processed.
/// - A new transaction waits the processing delay, is decided once, and its verdict is journaled
///   before anyone is answered; requests for it that arrive meanwhile wait for that verdict.
///
/// `Token` is whatever the pipeline needs to finish a request later (its Kafka message, its
/// span); the machine only carries it.
struct SimulatorStateMachine<Token> {
    /// One request and what finishing it needs.
    struct Request {
        let received: ReceivedPaymentRequest
        let token: Token
    }

    /// How a request is answered.
    enum Answer: Equatable {
        /// The transaction's verdict; `repeated` when it was decided for an earlier request.
        case verdict(Verdict, repeated: Bool)
        /// Not processed: its deadline had passed.
        case expired
    }

    enum Action {
        /// Decide a verdict for the request's transaction now, then call ``decided(_:for:)``.
        case decide(Request)
        /// Produce the reply.
        case reply(Request, Answer)
    }

    let processingDelay: Duration
    private var verdicts: ExpiringMap<String, Verdict>
    /// Transactions being decided (delay, then journal), with the requests that wait for them.
    private var deciding: [String: [Request]] = [:]
    /// Requests waiting out the processing delay, in arrival order (so in order of due time).
    private var delayed: Deque<(due: Duration, request: Request)> = []

    /// - Parameter verdictCapacity: verdicts remembered in memory (the journal keeps them all).
    init(processingDelay: Duration, verdictCapacity: Int) {
        self.processingDelay = processingDelay
        verdicts = ExpiringMap(capacity: verdictCapacity, maximumAge: .seconds(10 * 365 * 24 * 3_600))
    }

    /// Requests still to be answered: waiting out the delay or for their transaction's verdict.
    var waitingCount: Int { delayed.count + deciding.values.reduce(0) { $0 + $1.count } }

    /// When the next delayed request is due.
    var nextDue: Duration? { delayed.first?.due }

    /// A request read from the topic. `wallClock` (milliseconds since the epoch) is compared with
    /// its deadline; `now` (monotonic) schedules its delay.
    mutating func receive(_ request: Request, wallClock: Int64, now: Duration) -> Action? {
        let transactionID = request.received.transactionID
        if let verdict = verdicts[transactionID] {
            return .reply(request, .verdict(verdict, repeated: true))
        }
        if let deadline = request.received.deadlineMilliseconds, wallClock >= deadline {
            // Its requester has stopped waiting: processing it now would capture a payment whose
            // client was told "unknown". Say it was not processed instead.
            return .reply(request, .expired)
        }
        if deciding[transactionID] != nil {
            deciding[transactionID, default: []].append(request)
            return nil
        }
        deciding[transactionID] = []
        guard processingDelay > .zero else { return .decide(request) }
        delayed.append((now + processingDelay, request))
        return nil
    }

    /// The delayed requests whose processing time is over, to decide now.
    mutating func due(now: Duration) -> [Action] {
        var actions: [Action] = []
        while let first = delayed.first, first.due <= now {
            delayed.removeFirst()
            actions.append(.decide(first.request))
        }
        return actions
    }

    /// The verdict decided for `request` is journaled: it and every request that waited for its
    /// transaction are answered with it.
    mutating func decided(_ verdict: Verdict, for request: Request) -> [Action] {
        let transactionID = request.received.transactionID
        _ = verdicts.insert(verdict, for: transactionID, now: .zero)
        let waiting = deciding.removeValue(forKey: transactionID) ?? []
        return [.reply(request, .verdict(verdict, repeated: false))] + waiting.map { .reply($0, .verdict(verdict, repeated: true)) }
    }

    /// The verdict for `request` could not be journaled (shutdown): it and the requests that
    /// waited for it are left unanswered, for the partition's next owner.
    mutating func abandonDecision(for request: Request) -> [Request] {
        [request] + (deciding.removeValue(forKey: request.received.transactionID) ?? [])
    }

    /// A verdict read from the journal (this simulator's or another's).
    mutating func learn(_ verdict: Verdict, for transactionID: String) {
        _ = verdicts.insert(verdict, for: transactionID, now: .zero)
    }

    /// The verdict known for a transaction, if any.
    func verdict(for transactionID: String) -> Verdict? { verdicts[transactionID] }
}

extension SimulatorStateMachine.Request: Sendable where Token: Sendable {}
extension SimulatorStateMachine.Action: Sendable where Token: Sendable {}
extension SimulatorStateMachine.Answer: Sendable {}
