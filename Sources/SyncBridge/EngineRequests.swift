import Synchronization

/// The engine's outstanding work (Braze calls, request records, dead-letter writes, the state
/// write-ahead before a call) as child tasks of `run()`, which `SyncService.run` starts in its
/// task group: shutdown cancels and awaits them rather than leaving unstructured tasks behind,
/// and it waits for them through `waitForCompletion` rather than by polling.
final class EngineRequests: Sendable {
    typealias Work = @Sendable () async -> Void

    private struct State {
        var running = 0
        var completed = 0
        var closed = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let submissions: AsyncStream<Work>
    private let submit: AsyncStream<Work>.Continuation
    private let state = Mutex(State())

    init() {
        (submissions, submit) = AsyncStream.makeStream(of: Work.self)
    }

    /// Requests submitted and not yet finished, and how many have finished so far (for
    /// `waitForCompletion(after:until:)`).
    var progress: (inFlight: Int, completed: Int) { state.withLock { ($0.running, $0.completed) } }

    /// Runs `work` as a child of `run()`; dropped once `close` was called.
    func start(_ work: @escaping Work) {
        let accepted = state.withLock { state -> Bool in
            guard !state.closed else { return false }
            state.running += 1
            return true
        }
        guard accepted else { return }
        if case .terminated = submit.yield(work) { finished() }
    }

    /// Runs submitted work until `close`, then awaits what is still running; cancelling the
    /// calling task cancels them.
    func run() async {
        await withDiscardingTaskGroup { group in
            for await work in submissions {
                group.addTask {
                    await work()
                    self.finished()
                }
            }
        }
    }

    /// No more work is accepted; `run` returns once the running work is done.
    func close() {
        state.withLock { $0.closed = true }
        submit.finish()
    }

    /// Returns once more than `completed` requests have finished, or at `deadline`.
    func waitForCompletion(after completed: Int, until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(until: deadline) }
            group.addTask { await self.completion(after: completed) }
            await group.next()
            group.cancelAll()
        }
    }

    private func completion(after completed: Int) async {
        let id = state.withLock { state -> Int in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if Task.isCancelled || state.completed != completed { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    private func finished() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.running -= 1
            state.completed += 1
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }
}
