import Kafka
import Payments
import PaymentsWire
@testable import ProcessorSimulator
import Testing

/// The simulator's decisions, driven directly: no Kafka, no sleeping, times passed in.
@Suite("SimulatorStateMachine")
struct SimulatorStateMachineTests {
    typealias Machine = SimulatorStateMachine<Int>

    /// A request for `transaction` with an optional deadline, as the simulator reads it.
    static func request(_ token: Int, transaction: String = "tx", deadline: Int64? = nil) throws -> Machine.Request {
        var headers = [KafkaHeader(name: "correlation-id", value: CorrelationID.random().rawValue)]
        if let deadline { headers.append(KafkaHeader(name: "deadline", value: String(deadline))) }
        let message = KafkaMessage(
            topic: "payment-requests", partition: 0, offset: Int64(token), key: nil,
            value: Array(#"{"transaction_id":"\#(transaction)","amount":1,"currency":"BRL"}"#.utf8), headers: headers)
        return Machine.Request(received: try ReceivedPaymentRequest(message), token: token)
    }

    static let approved = Verdict(.approved(correlationID: .random(), transactionID: "tx", authorizationCode: "123456"))

    /// The replies among `actions`, as (token, answer).
    static func replies(_ actions: [Machine.Action]) -> [(Int, Machine.Answer)] {
        actions.compactMap { action in
            if case .reply(let request, let answer) = action { return (request.token, answer) }
            return nil
        }
    }

    @Test("with no delay a new transaction is decided at once; requests for it meanwhile wait and get the same verdict")
    func decideOnce() throws {
        var machine = Machine(processingDelay: .zero, verdictCapacity: 100)
        guard case .decide(let first)? = machine.receive(try Self.request(1), wallClock: 0, now: .zero) else {
            Issue.record("expected a decision"); return
        }
        #expect(machine.receive(try Self.request(2), wallClock: 0, now: .zero) == nil, "waits for the verdict being decided")
        let answers = Self.replies(machine.decided(Self.approved, for: first))
        #expect(answers.map(\.0) == [1, 2])
        #expect(answers[0].1 == .verdict(Self.approved, repeated: false))
        #expect(answers[1].1 == .verdict(Self.approved, repeated: true))
        guard case .reply(_, .verdict(_, repeated: true))? = machine.receive(try Self.request(3), wallClock: 0, now: .zero) else {
            Issue.record("a later request for the transaction gets its verdict"); return
        }
    }

    @Test("a request read after its deadline is answered expired and not processed")
    func expired() throws {
        var machine = Machine(processingDelay: .zero, verdictCapacity: 100)
        guard case .reply(_, .expired)? = machine.receive(try Self.request(1, deadline: 1_000), wallClock: 1_000, now: .zero) else {
            Issue.record("expected expired"); return
        }
        guard case .decide? = machine.receive(try Self.request(2, deadline: 2_000), wallClock: 1_999, now: .zero) else {
            Issue.record("before its deadline it is processed"); return
        }
    }

    @Test("with a delay, requests wait it out in arrival order and are decided when due")
    func delay() throws {
        var machine = Machine(processingDelay: .seconds(2), verdictCapacity: 100)
        #expect(machine.receive(try Self.request(1, transaction: "a"), wallClock: 0, now: .zero) == nil)
        #expect(machine.receive(try Self.request(2, transaction: "b"), wallClock: 0, now: .seconds(1)) == nil)
        #expect(machine.nextDue == .seconds(2))
        #expect(machine.due(now: .milliseconds(1_999)).isEmpty)
        let due = machine.due(now: .seconds(2))
        #expect(due.count == 1)
        guard case .decide(let request)? = due.first else { Issue.record("expected a decision"); return }
        #expect(request.token == 1)
        #expect(machine.nextDue == .seconds(3))
        #expect(machine.waitingCount == 1, "the second still waits out its delay")
    }

    @Test("a verdict learned from the journal answers a repeated transaction without deciding again")
    func learned() throws {
        var machine = Machine(processingDelay: .seconds(2), verdictCapacity: 100)
        machine.learn(Self.approved, for: "tx")
        guard case .reply(_, .verdict(Self.approved, repeated: true))? = machine.receive(try Self.request(1), wallClock: 0, now: .zero) else {
            Issue.record("expected the journaled verdict"); return
        }
    }

    @Test("a decision abandoned at shutdown releases its request and those that waited for it")
    func abandoned() throws {
        var machine = Machine(processingDelay: .zero, verdictCapacity: 100)
        guard case .decide(let first)? = machine.receive(try Self.request(1), wallClock: 0, now: .zero) else { return }
        _ = machine.receive(try Self.request(2), wallClock: 0, now: .zero)
        #expect(machine.abandonDecision(for: first).map(\.token) == [1, 2])
        #expect(machine.waitingCount == 0)
        guard case .decide? = machine.receive(try Self.request(3), wallClock: 0, now: .zero) else {
            Issue.record("the next request decides afresh"); return
        }
    }
}
