@testable import Payments
import Testing

/// The capture state machine, driven directly: no tasks, no sleeping, time passed in.
@Suite("CaptureStateMachine")
struct CaptureStateMachineTests {
    typealias Machine = CaptureStateMachine<String>

    static let limits = Machine.Limits(
        timeout: .seconds(30), maxPending: 100, idempotencyCapacity: 100, idempotencyRetention: .seconds(3_600), outcomeCapacity: 100,
        outcomeRetention: .seconds(600))

    /// A machine and a counter of attempts sent, with helpers that read like the events.
    struct Harness {
        var machine = Machine(limits: CaptureStateMachineTests.limits)
        var sent: [CorrelationID] = []
        var now = Duration.zero
        private var nextWaiter: UInt64 = 0

        /// A request for `key` from the waiter called `name`; records the attempt when it is sent.
        mutating func begin(_ name: String, key: String = "k", fingerprint: String = "f") -> Machine.Begin {
            nextWaiter += 1
            let decision = machine.begin(key: key, fingerprint: fingerprint, waiterID: nextWaiter, waiter: name, now: now)
            if case .send(let attempt, _) = decision { sent.append(attempt) }
            return decision
        }

        mutating func reply(_ id: CorrelationID, _ status: CaptureStatus = .approved) -> (ReplyDelivery, [(String, CaptureAnswer)]) {
            machine.deliver(.response(CaptureResponse(correlationID: id, transactionID: "tx", status: status, authorizationCode: "123456")), now: now)
        }

        /// Another replica's request record for `key`, read back from the request topic.
        mutating func observe(_ id: CorrelationID, key: String = "k", fingerprint: String = "f", age: Duration = .zero) -> [(String, CaptureAnswer)] {
            machine.observe(ObservedRequest(key: key, fingerprint: fingerprint, correlationID: id, producedAtMilliseconds: nil), age: age, now: now)
        }

        mutating func advance(_ duration: Duration) -> [(String, CaptureAnswer)] {
            now += duration
            return machine.expire(now: now)
        }
    }

    @Test("a new key sends one attempt; a duplicate in flight joins it; both get the verdict, the joiner marked replayed")
    func joinInFlight() {
        var harness = Harness()
        guard case .send = harness.begin("first") else { Issue.record("expected a send"); return }
        guard case .joined(let joined) = harness.begin("second") else { Issue.record("expected a join"); return }
        #expect(joined == harness.sent[0])
        #expect(harness.machine.waitingCount == 2)
        let (delivery, resumed) = harness.reply(harness.sent[0])
        #expect(delivery == .delivered)
        #expect(resumed.count == 2)
        #expect(resumed.first { $0.0 == "first" }.map { if case .answered(_, false) = $0.1 { true } else { false } } == true)
        #expect(resumed.first { $0.0 == "second" }.map { if case .answered(_, true) = $0.1 { true } else { false } } == true)
        #expect(harness.machine.pendingCount == 0 && harness.machine.waitingCount == 0)
        guard case .replay(let response) = harness.begin("third") else { Issue.record("expected a replay"); return }
        #expect(response.correlationID == harness.sent[0])
        #expect(harness.sent.count == 1, "one request for one capture")
    }

    @Test("the same key with another fingerprint is a conflict, in flight and after the verdict")
    func conflict() {
        var harness = Harness()
        _ = harness.begin("first")
        guard case .conflict = harness.begin("other", fingerprint: "g") else { Issue.record("expected a conflict"); return }
        _ = harness.reply(harness.sent[0])
        guard case .conflict = harness.begin("later", fingerprint: "g") else { Issue.record("expected a conflict"); return }
        #expect(harness.sent.count == 1)
    }

    @Test("the deadline ends every waiter with a timeout; the capture stays unresolved and its late verdict completes it")
    func timeoutThenLateVerdict() {
        var harness = Harness()
        _ = harness.begin("first")
        _ = harness.begin("second")
        #expect(harness.machine.nextDeadline == .seconds(30))
        #expect(harness.advance(.seconds(29)).isEmpty)
        let expired = harness.advance(.seconds(1))
        #expect(expired.count == 2)
        #expect(expired.allSatisfy { if case .failed(.timedOut(harness.sent[0]), _) = $0.1 { true } else { false } })
        #expect(harness.machine.lookUp(harness.sent[0], now: harness.now) == .pending, "sent, its answer may still come")
        let (delivery, resumed) = harness.reply(harness.sent[0])
        #expect(delivery == .late && resumed.isEmpty)
        guard case .replay = harness.begin("retry") else { Issue.record("expected the late verdict replayed"); return }
        #expect(harness.sent.count == 1)
        #expect(harness.machine.lookUp(harness.sent[0], now: harness.now) == .final(
            CaptureResponse(correlationID: harness.sent[0], transactionID: "tx", status: .approved, authorizationCode: "123456")))
    }

    /// The scenario of `CaptureLedger`'s defect (a): after a timeout, one retry and a late verdict
    /// race. The ledger looked the verdict up across a suspension and, finding none, sent a second
    /// request. Here every transition is synchronous, and a retry of a capture whose request was
    /// sent never sends another: it waits for the first one's answer.
    @Test("after a timeout, retries wait for the first attempt's answer and send nothing; its late verdict ends them")
    func retryRacingLateVerdict() {
        var harness = Harness()
        _ = harness.begin("first")
        _ = harness.advance(.seconds(30))
        guard case .awaiting(let awaited, _) = harness.begin("retry") else { Issue.record("a retry of a sent capture waits for it"); return }
        #expect(awaited == harness.sent[0])
        guard case .joined = harness.begin("concurrent retry") else { Issue.record("a concurrent retry joins it"); return }
        // The first attempt's verdict arrives while the retries wait.
        let (delivery, resumed) = harness.reply(harness.sent[0])
        #expect(delivery == .delivered)
        #expect(resumed.count == 2)
        #expect(resumed.allSatisfy { if case .answered(let response, true) = $0.1 { response.correlationID == harness.sent[0] } else { false } })
        guard case .replay = harness.begin("late retry") else { Issue.record("expected a replay"); return }
        #expect(harness.sent.count == 1, "one request for the capture, whatever the retries")
    }

    @Test("a retry that waits for an earlier attempt times out again without sending, and stays unresolved")
    func awaitingTimesOut() {
        var harness = Harness()
        _ = harness.begin("first")
        _ = harness.advance(.seconds(30))
        _ = harness.begin("retry")
        let ended = harness.advance(.seconds(30))
        #expect(ended.count == 1)
        #expect(ended.allSatisfy { if case .failed(.timedOut(harness.sent[0]), true) = $0.1 { true } else { false } })
        #expect(harness.machine.lookUp(harness.sent[0], now: harness.now) == .pending)
        #expect(harness.sent.count == 1)
    }

    @Test("a send that certainly failed forgets the capture: the retry is new")
    func sendFailure() {
        var harness = Harness()
        _ = harness.begin("first")
        let resumed = harness.machine.sendFailed(harness.sent[0], error: .unavailable(reason: "down"), now: harness.now)
        #expect(resumed.count == 1)
        #expect(harness.machine.pendingCount == 0 && harness.machine.finishedCount == 0)
        #expect(harness.machine.lookUp(harness.sent[0], now: harness.now) == .unknown)
        guard case .send(let retry, _) = harness.begin("retry") else { Issue.record("expected a new attempt"); return }
        #expect(retry == harness.sent[0], "never written, so the same id again")
    }

    @Test("expired (not processed) voids the attempt: a retry sends a new one, under an id every replica derives alike")
    func expiredAnswers() {
        var harness = Harness()
        _ = harness.begin("first")
        let (_, resumed) = harness.reply(harness.sent[0], .expired)
        #expect(resumed.count == 1)
        guard case .answered(let response, false) = resumed[0].1, response.status == .expired else { Issue.record("expected expired"); return }
        guard case .send(let next, _) = harness.begin("retry") else { Issue.record("a retry after expired sends again"); return }
        #expect(next != harness.sent[0])
        #expect(next == CorrelationID.attempt(key: "k", fingerprint: "f", after: harness.sent[0]))
        guard case .conflict = harness.begin("other body", fingerprint: "g") else { Issue.record("the key stays bound to its body"); return }

        // A retry waiting for an unresolved attempt gets its expired answer: nothing was captured.
        var second = Harness()
        _ = second.begin("first")
        _ = second.advance(.seconds(30))
        _ = second.begin("retry")
        let (_, answers) = second.reply(second.sent[0], .expired)
        #expect(answers.allSatisfy { if case .answered(let response, true) = $0.1 { response.status == .expired } else { false } })
        guard case .send = second.begin("later") else { Issue.record("after expired a retry is a new attempt"); return }
        #expect(second.sent.count == 2)
    }

    @Test("the first attempt's id is derived from the key and the body: two replicas send the same id for one new capture")
    func derivedAttemptIDs() {
        var a = Harness(), b = Harness()
        _ = a.begin("on a")
        _ = b.begin("on b")
        #expect(a.sent == b.sent)
        var c = Harness()
        _ = c.begin("other body", fingerprint: "g")
        #expect(c.sent != a.sent)
        #expect(a.sent[0].rawValue.count == 36 && a.sent[0].rawValue.dropFirst(14).first == "5", "a version 5 UUID")
    }

    @Test("another replica's request: a retry here waits for it and sends nothing; its verdict ends the wait; GET says pending")
    func observedRequests() {
        var harness = Harness()
        let elsewhere = CorrelationID.attempt(key: "k", fingerprint: "f", after: nil)
        #expect(harness.observe(elsewhere).isEmpty)
        #expect(harness.machine.lookUp(elsewhere, now: harness.now) == .pending)
        guard case .conflict = harness.begin("other body", fingerprint: "g") else { Issue.record("expected a conflict"); return }
        guard case .awaiting(let awaited, _) = harness.begin("retry") else { Issue.record("expected a wait"); return }
        #expect(awaited == elsewhere)
        let (delivery, resumed) = harness.reply(elsewhere)
        #expect(delivery == .delivered)
        #expect(resumed.count == 1)
        #expect(harness.sent.isEmpty, "nothing sent from here")
        guard case .replay = harness.begin("again") else { Issue.record("expected a replay"); return }
        // Its own request, read back, changes nothing.
        #expect(harness.observe(elsewhere).isEmpty)
        guard case .replay = harness.begin("once more") else { Issue.record("expected a replay"); return }
    }

    @Test("a reply read before its request: the request, when read, finds the verdict; an expired one voids the capture")
    func replyBeforeRequest() {
        var harness = Harness()
        let id = CorrelationID.attempt(key: "k", fingerprint: "f", after: nil)
        #expect(harness.reply(id).0 == .unmatched)
        _ = harness.observe(id)
        guard case .replay(let response) = harness.begin("retry") else { Issue.record("expected a replay"); return }
        #expect(response.correlationID == id)

        var expired = Harness()
        _ = expired.reply(id, .expired)
        _ = expired.observe(id)
        guard case .send(let next, _) = expired.begin("retry") else { Issue.record("an expired capture is retried"); return }
        #expect(next == CorrelationID.attempt(key: "k", fingerprint: "f", after: id))
    }

    @Test("a concurrent attempt from another replica under another id: a verdict for either ends the capture")
    func concurrentAttempts() {
        var harness = Harness()
        _ = harness.begin("here")
        let other = CorrelationID.random()
        _ = harness.observe(other)
        _ = harness.observe(harness.sent[0])  // its own, read back
        let (delivery, resumed) = harness.reply(other)
        #expect(delivery == .delivered && resumed.count == 1)
        #expect(harness.reply(harness.sent[0]).0 == .unmatched)
    }

    @Test("requests older than the retention are not taken in")
    func observedAge() {
        var harness = Harness()
        let id = CorrelationID.random()
        _ = harness.observe(id, age: .seconds(3_601))
        #expect(harness.machine.lookUp(id, now: harness.now) == .unknown)
        guard case .send = harness.begin("new") else { Issue.record("expected a send"); return }
    }

    @Test("an abandoned waiter leaves at once and nothing of it stays; the capture goes on for the others")
    func abandon() {
        var harness = Harness()
        _ = harness.begin("first")  // waiter 1
        _ = harness.begin("second")  // waiter 2
        let left = harness.machine.abandon(waiterID: 1, key: "k")
        #expect(left?.0 == "first")
        #expect(harness.machine.waitingCount == 1)
        #expect(harness.machine.abandon(waiterID: 1, key: "k") == nil, "once only")
        let (_, resumed) = harness.reply(harness.sent[0])
        #expect(resumed.map(\.0) == ["second"])
        #expect(harness.machine.abandon(waiterID: 2, key: "k") == nil, "after the answer there is nothing to abandon")
        #expect(harness.machine.waitingCount == 0)
    }

    @Test("beyond maxPending a new capture is refused as overloaded; shutdown ends every wait and refuses new ones")
    func limitsAndShutdown() {
        var harness = Harness()
        harness.machine = Machine(limits: .init(
            timeout: .seconds(30), maxPending: 1, idempotencyCapacity: 10, idempotencyRetention: .seconds(60), outcomeCapacity: 10,
            outcomeRetention: .seconds(60)))
        _ = harness.begin("first", key: "a")
        guard case .refused(.overloaded(limit: 1)) = harness.begin("second", key: "b") else { Issue.record("expected overloaded"); return }
        let ended = harness.machine.shutdown(now: harness.now)
        #expect(ended.count == 1)
        #expect(ended.allSatisfy { if case .failed(.shuttingDown(.some), _) = $0.1 { true } else { false } })
        guard case .refused(.shuttingDown(nil)) = harness.begin("third", key: "c") else { Issue.record("expected refusal"); return }
    }

    @Test("finished captures are forgotten beyond the capacity and the retention; answers likewise")
    func eviction() {
        var harness = Harness()
        harness.machine = Machine(limits: .init(
            timeout: .seconds(30), maxPending: 10, idempotencyCapacity: 2, idempotencyRetention: .seconds(60), outcomeCapacity: 2,
            outcomeRetention: .seconds(60)))
        for key in ["a", "b", "c"] {
            _ = harness.begin(key, key: key)
            _ = harness.reply(harness.sent.last!)
        }
        #expect(harness.machine.finishedCount == 2)
        guard case .send = harness.begin("a again", key: "a") else { Issue.record("the oldest key was forgotten"); return }
        _ = harness.reply(harness.sent.last!)
        guard case .replay = harness.begin("c again", key: "c") else { Issue.record("a recent key is replayed"); return }
        #expect(harness.sent[3] == harness.sent[0], "the same key and body, so the same id again")
        #expect(harness.machine.lookUp(harness.sent[1], now: harness.now) == .unknown, "the oldest answer was evicted")
        harness.now += .seconds(61)
        guard case .send = harness.begin("c later", key: "c") else { Issue.record("past the retention the key is new"); return }
    }

    @Test("the next deadline skips attempts that ended, so the timer only wakes for live ones")
    func deadlinesSkipEndedAttempts() {
        var harness = Harness()
        _ = harness.begin("a", key: "a")
        harness.now += .seconds(1)
        _ = harness.begin("b", key: "b")
        _ = harness.reply(harness.sent[0])
        #expect(harness.machine.nextDeadline == .seconds(31))
        _ = harness.reply(harness.sent[1])
        #expect(harness.machine.nextDeadline == nil)
    }
}
