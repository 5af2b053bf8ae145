import SyncBridgeCore

/// Braze's CDI sync endpoint modelled in virtual time: one job at a time per integration,
/// 429 "in progress" while it runs, and a per-target trigger limit over a sliding window.
///
/// It owns the ground truth the scheduling tests and benchmark judge by: which calls
/// were made, which were wasted, and which accepted trigger covers which event.
public final class VirtualBraze {
    public struct Call: Sendable {
        public var key: IntegrationKey
        public var at: Moment
        public var result: TriggerResult
    }

    public var limits: [String: TargetLimits]
    public var unknownIntegrations: Set<IntegrationKey> = []
    /// Job duration per integration and start time.
    public var jobDuration: @Sendable (IntegrationKey, Moment) -> Duration
    /// Extra failures to inject: returns a result to answer instead of the real one.
    public var fault: @Sendable (IntegrationKey, Moment) -> TriggerResult? = { _, _ in nil }

    public private(set) var calls: [Call] = []
    /// Calls admitted by the rate limit per target, oldest first. As in the simulator, a
    /// refused (rate-limited) call does not consume budget; `busiestWindow` still counts it.
    private var admittedAt: [String: [Moment]] = [:]
    private var acceptedAt: [IntegrationKey: [Moment]] = [:]
    public private(set) var statusCalls: [(key: IntegrationKey, at: Moment)] = []
    private var jobs: [IntegrationKey: (start: Moment, end: Moment)] = [:]
    private var finishedJobs: [IntegrationKey: [(start: Moment, end: Moment)]] = [:]

    public init(limits: [String: TargetLimits], jobDuration: @escaping @Sendable (IntegrationKey, Moment) -> Duration) {
        self.limits = limits
        self.jobDuration = jobDuration
    }

    /// When the job running at `moment` ends, if one runs.
    public func runningJobEnd(_ key: IntegrationKey, at moment: Moment) -> Moment? {
        guard let job = jobs[key], job.end > moment else { return nil }
        return job.end
    }

    public func trigger(_ key: IntegrationKey, at now: Moment) -> TriggerResult {
        let result = answerTrigger(key, at: now)
        calls.append(Call(key: key, at: now, result: result))
        if result == .accepted { acceptedAt[key, default: []].append(now) }
        return result
    }

    private func answerTrigger(_ key: IntegrationKey, at now: Moment) -> TriggerResult {
        let limit = limits[key.target]?.triggers ?? TargetLimits.braze.triggers
        let admitted = admittedAt[key.target, default: []]
        let recent = admitted.count - Self.firstIndex(in: admitted) { $0 > now - limit.window }
        if recent >= limit.count { return .rateLimited }
        admittedAt[key.target, default: []].append(now)
        if let injected = fault(key, now) { return injected }
        if unknownIntegrations.contains(key) { return .notFound }
        if let job = jobs[key], job.end > now { return .inProgress }
        if let job = jobs[key] { finishedJobs[key, default: []].append(job) }
        jobs[key] = (now, now + jobDuration(key, now))
        return .accepted
    }

    public func status(_ key: IntegrationKey, at now: Moment) -> StatusResult {
        statusCalls.append((key, now))
        guard let job = jobs[key] else { return .noJobs }
        return job.end > now ? .running : .finished(duration: job.end - job.start)
    }

    /// Whether an accepted trigger for `key` was sent at or after `moment` (G1).
    public func covered(_ key: IntegrationKey, consumedAt moment: Moment) -> Bool {
        guard let last = acceptedAt[key]?.last else { return false }
        return last >= moment
    }

    /// The first accepted trigger for `key` sent at or after `moment`.
    public func firstCoveringTrigger(_ key: IntegrationKey, consumedAt moment: Moment) -> Moment? {
        guard let times = acceptedAt[key] else { return nil }
        let index = Self.firstIndex(in: times) { $0 >= moment }
        return index < times.count ? times[index] : nil
    }

    /// Binary search in ascending `times` for the first that satisfies a monotonic `isAfter`.
    static func firstIndex(in times: [Moment], where isAfter: (Moment) -> Bool) -> Int {
        var low = 0, high = times.count
        while low < high {
            let mid = (low + high) / 2
            if isAfter(times[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }

    /// The most trigger calls for one target within any window of its limit's length.
    public func busiestWindow(target: String) -> Int {
        let window = (limits[target]?.triggers ?? TargetLimits.braze.triggers).window
        return Self.busiest(calls.filter { $0.key.target == target }.map(\.at), window: window)
    }

    public func busiestStatusWindow(target: String) -> Int {
        let window = (limits[target]?.statuses ?? TargetLimits.braze.statuses).window
        return Self.busiest(statusCalls.filter { $0.key.target == target }.map(\.at), window: window)
    }

    static func busiest(_ times: [Moment], window: Duration) -> Int {
        var best = 0, start = 0
        for end in times.indices {
            while times[end] - times[start] >= window { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }

    /// A call made while a job ran: Braze answered 429 in progress.
    public var wastedCalls: Int { calls.filter { $0.result == .inProgress }.count }
}
