import SyncBridgeCore
import Synchronization

/// Fires the coordinator's deadlines (status polls, trailing triggers, retries, coalescing
/// windows) from a task of its own.
///
/// The consumer thread only feeds events in: librdkafka calls block while the cluster is
/// unreachable, and triggers and polls need only Braze. Every coordinator input reports the
/// deadline it leaves behind; the timer is woken only when that is earlier than the one it is
/// armed for, so the per-event cost is one atomic load.
final class DeadlineTimer: Sendable {
    private let wakeups: AsyncStream<Void>
    private let wake: AsyncStream<Void>.Continuation
    /// The deadline the timer sleeps towards, in nanoseconds on the coordinator's scale;
    /// `Int64.max` when it waits for nothing.
    private let armed = Atomic<Int64>(.max)

    init() {
        (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Called after each coordinator input, with the deadline it left.
    func deadlineChanged(to deadline: Moment?) {
        guard let deadline, deadline.nanoseconds < armed.load(ordering: .relaxed) else { return }
        wake.yield()
    }

    /// Records the deadline the timer now sleeps towards; called under the coordinator's lock,
    /// so an input that sets an earlier one afterwards is sure to see it and wake the timer.
    func arm(for deadline: Moment?) {
        armed.store(deadline?.nanoseconds ?? .max, ordering: .relaxed)
    }

    /// Ticks the engine at each deadline until cancelled.
    func run(_ engine: SyncEngine) async {
        var alarm: Task<Void, Never>?
        wake.yield()
        for await _ in wakeups {
            alarm?.cancel()
            guard !Task.isCancelled else { break }
            guard let deadline = engine.tickIfDue() else { continue }
            // At least a millisecond, so a deadline the coordinator leaves in place cannot spin the loop.
            let delay = max(deadline - engine.clock.now(), .milliseconds(1))
            alarm = Task { [wake] in
                try? await Task.sleep(for: delay)
                if !Task.isCancelled { wake.yield() }
            }
        }
        alarm?.cancel()
    }

    /// Ends `run`.
    func stop() { wake.finish() }
}

extension Moment {
    fileprivate var nanoseconds: Int64 { Int64(saturating: sinceOrigin.seconds * 1e9) }
}
