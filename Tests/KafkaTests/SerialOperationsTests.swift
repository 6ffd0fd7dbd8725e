@testable import Kafka
import Synchronization
import Testing

/// What keeps a consumer's client replacements (outage, starved fetch) and its close apart.
@Suite("Serial operations (client replacements and close)")
struct SerialOperationsTests {
    /// Records which operations run, and whether any two ever overlapped.
    private final class Log: Sendable {
        private struct State {
            var running = 0
            var overlapped = false
            var order: [Int] = []
        }

        private let state = Mutex(State())

        func operation(_ number: Int) -> @Sendable () async -> Void {
            { [self] in
                state.withLock { state in
                    state.running += 1
                    state.overlapped = state.overlapped || state.running > 1
                }
                // Long enough for the others to start if nothing held them back.
                try? await Task.sleep(for: .milliseconds(20))
                state.withLock { state in
                    state.running -= 1
                    state.order.append(number)
                }
            }
        }

        var overlapped: Bool { state.withLock { $0.overlapped } }
        var order: [Int] { state.withLock { $0.order } }
    }

    @Test("operations asked for at once run one at a time, each to its end")
    func oneAtATime() async {
        let serial = SerialOperations()
        let log = Log()
        await withTaskGroup(of: Void.self) { group in
            for number in 0..<8 {
                group.addTask { await serial.run(log.operation(number)) }
            }
        }
        #expect(!log.overlapped)
        #expect(Set(log.order) == Set(0..<8))
    }

    @Test("operations asked for one after another run in that order")
    func inOrder() async {
        let serial = SerialOperations()
        let log = Log()
        let first = Task { await serial.run(log.operation(1)) }
        // The first operation is accepted before the second is asked for.
        while true {
            await Task.yield()
            if serial.hasAccepted { break }
        }
        await serial.run(log.operation(2))
        await first.value
        #expect(log.order == [1, 2])
    }

    @Test("close waits for the operation under way, and refuses the ones asked for later")
    func closeWaitsThenRefuses() async {
        let serial = SerialOperations()
        let log = Log()
        let running = Task { await serial.run(log.operation(1)) }
        while true {
            await Task.yield()
            if serial.hasAccepted { break }
        }
        await serial.close()
        #expect(log.order == [1])
        await serial.run(log.operation(2))
        await running.value
        #expect(log.order == [1])
    }
}
