import Payments
import Synchronization
import Testing
import TestSupport

@Suite("CorrelationRegistry")
struct CorrelationRegistryTests {
    typealias Registry = CorrelationRegistry<String, String>

    /// Starts a wait in a child task and returns it once the registry has it registered.
    private func startWaiting(
        _ registry: Registry, _ key: String, timeout: Duration = .seconds(30),
        send: @escaping @Sendable () async throws -> Void = {}
    ) async -> Task<String, any Error> {
        let before = registry.pendingCount
        let task = Task { try await registry.waitForReply(to: key, timeout: timeout, afterRegistering: send) }
        for _ in 0..<10_000 where registry.pendingCount == before {
            try? await Task.sleep(for: .milliseconds(1))
        }
        return task
    }

    private func failure(of task: Task<String, any Error>) async -> (any Error)? {
        do {
            _ = try await task.value
            return nil
        } catch {
            return error
        }
    }

    @Test("a reply resumes its waiter, cancels the deadline and leaves nothing pending")
    func replyWins() async throws {
        let clock = ManualClock()
        let registry = Registry(clock: clock)
        let waiter = await startWaiting(registry, "a")
        await clock.waitForSleepers(1)
        #expect(await registry.complete("a", with: "approved") == .delivered)
        #expect(try await waiter.value == "approved")
        #expect(registry.pendingCount == 0)
        await clock.waitForSleepers(0)
        #expect(clock.sleeperCount == 0, "the deadline task must be cancelled when the reply wins")
        #expect(await registry.statistics.delivered == 1)
    }

    @Test("a reply that arrives while the request is still being sent is kept for the waiter")
    func replyDuringSend() async throws {
        let registry = Registry(clock: ManualClock())
        let reply = try await registry.waitForReply(to: "fast", timeout: .seconds(30)) {
            #expect(await registry.complete("fast", with: "approved") == .delivered)
        }
        #expect(reply == "approved")
        #expect(registry.pendingCount == 0)
    }

    @Test("the deadline ends the wait with timedOut, and a reply after it counts as late")
    func timeout() async throws {
        let clock = ManualClock()
        let registry = Registry(clock: clock)
        let waiter = await startWaiting(registry, "slow", timeout: .seconds(5))
        await clock.waitForSleepers(1)
        clock.advance(by: .seconds(4))
        #expect(registry.pendingCount == 1, "not before the deadline")
        clock.advance(by: .seconds(1))
        #expect(await failure(of: waiter) as? CorrelationFailure == .timedOut)
        #expect(registry.pendingCount == 0)
        #expect(await registry.complete("slow", with: "approved") == .late)
        let statistics = await registry.statistics
        #expect(statistics.timedOut == 1 && statistics.late == 1 && statistics.delivered == 0)
    }

    @Test("cancelling the waiting task (client gone) ends the wait with cancelled")
    func cancellation() async throws {
        let clock = ManualClock()
        let registry = Registry(clock: clock)
        let waiter = await startWaiting(registry, "gone")
        await clock.waitForSleepers(1)
        waiter.cancel()
        #expect(await failure(of: waiter) as? CorrelationFailure == .cancelled)
        #expect(registry.pendingCount == 0)
        await clock.waitForSleepers(0)
        #expect(clock.sleeperCount == 0)
        #expect(await registry.complete("gone", with: "approved") == .late)
    }

    @Test("a task cancelled before it registers does not register or send")
    func cancelledBeforeRegistering() async throws {
        let registry = Registry(clock: ManualClock())
        let sent = Flag()
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await registry.waitForReply(to: "never", timeout: .seconds(1)) { sent.set() }
        }
        #expect(await failure(of: task) as? CorrelationFailure == .cancelled)
        #expect(!sent.isSet)
        #expect(registry.pendingCount == 0)
    }

    @Test("when sending fails the error is rethrown and the registration removed")
    func sendFails() async throws {
        struct BrokerDown: Error {}
        let clock = ManualClock()
        let registry = Registry(clock: clock)
        await #expect(throws: BrokerDown.self) {
            try await registry.waitForReply(to: "x", timeout: .seconds(5)) { throw BrokerDown() }
        }
        #expect(registry.pendingCount == 0)
        await clock.waitForSleepers(0)
        #expect(clock.sleeperCount == 0)
        #expect(await registry.complete("x", with: "approved") == .unmatched)
    }

    @Test("shutdown ends every wait with shuttingDown and refuses new ones")
    func shutdown() async throws {
        let registry = Registry(clock: ManualClock())
        let first = await startWaiting(registry, "1")
        let second = await startWaiting(registry, "2")
        await registry.shutdown()
        #expect(await failure(of: first) as? CorrelationFailure == .shuttingDown)
        #expect(await failure(of: second) as? CorrelationFailure == .shuttingDown)
        #expect(registry.pendingCount == 0)
        await #expect(throws: CorrelationFailure.shuttingDown) {
            try await registry.waitForReply(to: "3", timeout: .seconds(1)) {}
        }
    }

    @Test("stopAccepting lets waits in progress finish and waitUntilIdle returns after the last")
    func drain() async throws {
        let registry = Registry(clock: ManualClock())
        let waiter = await startWaiting(registry, "in-flight")
        await registry.stopAccepting()
        await #expect(throws: CorrelationFailure.shuttingDown) {
            try await registry.waitForReply(to: "new", timeout: .seconds(1)) {}
        }
        let idle = Task { await registry.waitUntilIdle() }
        await registry.complete("in-flight", with: "approved")
        await idle.value
        #expect(try await waiter.value == "approved")
    }

    @Test("a reply racing the deadline resumes the waiter exactly once")
    func replyThenDeadline() async throws {
        let clock = ManualClock()
        let registry = Registry(clock: clock)
        let waiter = await startWaiting(registry, "race", timeout: .seconds(1))
        await clock.waitForSleepers(1)
        async let delivered = registry.complete("race", with: "approved")
        clock.advance(by: .seconds(1))
        _ = await delivered
        // A second resume of a CheckedContinuation traps, so reaching here with one outcome
        // counted is the exactly-once check.
        let result = await (try? waiter.value)
        let statistics = await registry.statistics
        #expect(statistics.delivered + statistics.timedOut == 1)
        #expect((result == "approved") == (statistics.delivered == 1))
        #expect(registry.pendingCount == 0)
    }

    @Test("a second wait for a key already waiting is refused; the first is unaffected")
    func duplicateKey() async throws {
        let registry = Registry(clock: ManualClock())
        let first = await startWaiting(registry, "dup")
        await #expect(throws: CorrelationFailure.duplicateKey) {
            try await registry.waitForReply(to: "dup", timeout: .seconds(1)) {}
        }
        await registry.complete("dup", with: "approved")
        #expect(try await first.value == "approved")
    }

    @Test("beyond its capacity the registry refuses at once without sending")
    func capacity() async throws {
        let registry = Registry(clock: ManualClock(), capacity: 2)
        let first = await startWaiting(registry, "1")
        let second = await startWaiting(registry, "2")
        let sent = Flag()
        await #expect(throws: CorrelationFailure.capacityExceeded(limit: 2)) {
            try await registry.waitForReply(to: "3", timeout: .seconds(1)) { sent.set() }
        }
        #expect(!sent.isSet)
        await registry.shutdown()
        _ = await (failure(of: first), failure(of: second))
    }

    @Test("an explicit failure ends the wait with that failure")
    func explicitFailure() async throws {
        let registry = Registry(clock: ManualClock())
        let waiter = await startWaiting(registry, "err")
        #expect(await registry.fail("err", with: .failed(reason: "processor error")))
        #expect(await failure(of: waiter) as? CorrelationFailure == .failed(reason: "processor error"))
        #expect(await registry.fail("err", with: .failed(reason: "again")) == false)
    }

    @Test("a reply for a key nobody waited for is unmatched, never a crash")
    func unmatched() async throws {
        let registry = Registry(clock: ManualClock())
        #expect(await registry.complete("stranger", with: "approved") == .unmatched)
        #expect(await registry.statistics.unmatched == 1)
    }

    @Test("a thousand concurrent waits ending every way leave nothing pending")
    func manyWaits() async throws {
        let clock = ManualClock()
        let registry = Registry(clock: clock)
        let outcomes = await withTaskGroup(of: String.self, returning: [String].self) { group in
            for index in 0..<1_000 {
                group.addTask {
                    do {
                        return try await registry.waitForReply(to: "k\(index)", timeout: .seconds(10)) {
                            if index % 3 == 0 {
                                Task { await registry.complete("k\(index)", with: "reply-\(index)") }
                            }
                        }
                    } catch {
                        return "\(error)"
                    }
                }
            }
            // Let the replies land, then time out the rest.
            for _ in 0..<10_000 where await registry.statistics.delivered < 334 {
                try? await Task.sleep(for: .milliseconds(1))
            }
            await clock.waitForSleepers(666)
            clock.advance(by: .seconds(10))
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.count == 1_000)
        #expect(outcomes.filter { $0.hasPrefix("reply-") }.count == 334)
        #expect(outcomes.filter { $0 == CorrelationFailure.timedOut.description }.count == 666)
        #expect(registry.pendingCount == 0)
    }
}

/// A flag a `@Sendable` closure can raise.
private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
