import Foundation
import Synchronization

/// Runs a blocking librdkafka call on a thread of its own and awaits its result, so that the call
/// never occupies a thread of Swift's cooperative pool.
///
/// Used for calls that block for up to their timeout: metadata and watermark queries, topic
/// creation, flush and close. These are rare (start-up, health probes, shutdown), so a thread per
/// call costs less than keeping a pool.
func runBlocking<Result: Sendable>(
    _ name: String, _ body: @escaping @Sendable () throws -> Result
) async throws -> Result {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Swift.Result { try body() })
        }
        thread.name = name
        thread.start()
    }
}

/// A thread that repeats a blocking poll until asked to stop.
///
/// librdkafka serves delivery reports, consumed messages and callbacks from inside its poll calls,
/// which block for up to their timeout. Polling on a dedicated thread with a blocking timeout
/// gives the lowest latency without spinning, and keeps those calls off the cooperative pool.
final class PollingThread: Sendable {
    private struct State {
        var stopRequested = false
        var exited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())
    let name: String

    /// Starts the thread. `iteration` is called repeatedly until ``stop()``; it should block in
    /// librdkafka for a bounded time (100 ms is usual) so that a stop is noticed promptly.
    init(name: String, iteration: @escaping @Sendable (_ thread: PollingThread) -> Void) {
        self.name = name
        let thread = Thread { [self] in
            while !self.isStopRequested {
                iteration(self)
            }
            let waiters = self.state.withLock { state in
                state.exited = true
                defer { state.exitWaiters.removeAll() }
                return state.exitWaiters
            }
            waiters.forEach { $0.resume() }
        }
        thread.name = name
        thread.start()
    }

    var isStopRequested: Bool { state.withLock { $0.stopRequested } }

    /// Sleeps for up to `duration`, waking early when a stop is requested, so that loops that
    /// wait between iterations still stop promptly.
    func sleep(_ duration: Duration) {
        let step = Duration.milliseconds(50)
        var remaining = duration
        while remaining > .zero, !isStopRequested {
            let slice = min(step, remaining)
            Thread.sleep(forTimeInterval: Double(slice.components.attoseconds) / 1e18 + Double(slice.components.seconds))
            remaining -= slice
        }
    }

    /// Asks the loop to stop after its current iteration and waits until the thread has left it.
    func stop() async {
        await withCheckedContinuation { continuation in
            let alreadyExited = state.withLock { state in
                state.stopRequested = true
                if !state.exited { state.exitWaiters.append(continuation) }
                return state.exited
            }
            if alreadyExited { continuation.resume() }
        }
    }
}
