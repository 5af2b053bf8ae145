/// What the coordinator knows at one moment, for the operator's view (`GET /v1/integrations`,
/// `syncbridge inspect`, the status page): why each integration is or is not being synced.
public struct CoordinatorSnapshot: Sendable {
    public var at: Moment
    public var targets: [TargetSnapshot]
    public var integrations: [IntegrationSnapshot]
}

public struct BudgetSnapshot: Equatable, Sendable {
    public var limit: RateLimit
    /// Requests sent inside the window ending now.
    public var used: Int
    /// What may still be sent this window, the server's `X-RateLimit-Remaining` included.
    public var remaining: Int
    /// When the oldest request in the window leaves it.
    public var nextRelease: Moment?
    /// The last `X-RateLimit-Remaining` and reset seen, while that reset is ahead.
    public var serverRemaining: Int?
    public var serverResetAt: Moment?
}

public struct TargetSnapshot: Sendable {
    public var name: String
    public var triggers: BudgetSnapshot
    public var statuses: BudgetSnapshot
    /// 401 or 403 while the target is paused, and when the next probe may go.
    public var pausedStatus: Int?
    public var nextProbeAt: Moment?
    /// The status endpoint answered 403: running jobs are probed with triggers instead.
    public var statusForbidden: Bool
}

/// The states SPEC §4 names, in the order an operator reads them.
public enum IntegrationPhase: String, CaseIterable, Sendable {
    case idle
    case coalescing
    case due
    case waitingForBudget = "waiting_for_budget"
    case running
    case runningWithNewEvents = "running_with_new_events"
    case backingOff = "backing_off"
    case disabled
    case paused
}

public struct NextAction: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case trigger, poll, probe
        /// A call is on its way; the answer decides what comes next.
        case awaitAnswer = "await_answer"
    }

    public var kind: Kind
    public var at: Moment
}

public struct IntegrationSnapshot: Sendable {
    public var key: IntegrationKey
    public var phase: IntegrationPhase
    public var pendingEvents: Int
    public var oldestPendingAt: Moment?
    public var lastEventAt: Moment?
    public var next: NextAction?
    /// Since when a job is known to run; nil when none is, or when none is known of.
    public var jobRunningSince: Moment?
    /// No record says whether a job runs (a cautious start): status is polled before a trigger.
    public var jobUnknown: Bool
    public var failures: Int
    public var retryAt: Moment?
    public var disabledStatus: Int?
    public var learnedDurations: [Duration]
    public var lastTrigger: CallRecord?
    public var lastStatus: CallRecord?
    public var timeline: [(start: Moment, counts: SIMD8<Int32>)]
    /// Only when asked for one integration.
    public var history: [CallRecord]?
}

extension Coordinator {
    /// Every target and integration known; `integrationID` narrows it to one ID (on any target)
    /// and adds its call history.
    public func snapshot(at now: Moment, integrationID: String? = nil) -> CoordinatorSnapshot {
        let targetViews = targets.values.sorted { $0.name < $1.name }.map { target in
            TargetSnapshot(
                name: target.name, triggers: target.triggers.snapshot(at: now), statuses: target.statuses.snapshot(at: now),
                pausedStatus: target.pause?.status, nextProbeAt: target.pause?.probeAt, statusForbidden: target.statusForbidden)
        }
        let keys = integrations.keys.filter { integrationID == nil || $0.integrationID == integrationID }.sorted()
        let views = keys.map { key in
            let state = integrations[key]!
            var view = IntegrationSnapshot(
                key: key, phase: .idle, pendingEvents: state.pending.count, oldestPendingAt: state.firstPendingAt,
                lastEventAt: state.lastEventAt == .origin ? nil : state.lastEventAt,
                jobRunningSince: nil, jobUnknown: state.job.isUnknown, failures: state.failures, retryAt: state.retryAt,
                disabledStatus: state.disabledStatus, learnedDurations: state.recentDurations, lastTrigger: state.activity.lastTrigger,
                lastStatus: state.activity.lastStatus, timeline: state.activity.timeline.buckets(endingAt: now),
                history: integrationID == nil ? nil : Array(state.activity.history))
            if case .running(let since, _) = state.job { view.jobRunningSince = since }
            (view.phase, view.next) = phase(key, state, now: now)
            return view
        }
        return CoordinatorSnapshot(at: now, targets: targetViews, integrations: views)
    }

    private func phase(_ key: IntegrationKey, _ state: Integration, now: Moment) -> (IntegrationPhase, NextAction?) {
        let target = targets[key.target]!
        let waiting = !state.pending.isEmpty
        // A job of unknown state is polled like a running one, but shown as what waits for it.
        var running: IntegrationPhase?
        if case .running = state.job { running = waiting ? .runningWithNewEvents : .running }
        switch state.inFlight {
        case .trigger?: return (.due, NextAction(kind: .awaitAnswer, at: now))
        case .status?: return (running ?? .running, NextAction(kind: .awaitAnswer, at: now))
        case nil: break
        }
        if state.disabledStatus != nil { return (.disabled, nil) }
        guard waiting else { return (running ?? .idle, nil) }
        if let pause = target.pause { return (.paused, NextAction(kind: .probe, at: max(now, pause.probeAt))) }
        guard let due = dueTime(key, state, now: now) else { return (running ?? .idle, nil) }
        let polls = state.job.wantsPoll && !target.statusForbidden
        let budget = polls ? target.statuses : target.triggers
        let next = NextAction(kind: polls ? .poll : .trigger, at: max(due, budget.availableAt(now)))
        if let retryAt = state.retryAt, retryAt > now { return (.backingOff, next) }
        if due > now { return (running ?? .coalescing, next) }
        if next.at > now { return (.waitingForBudget, next) }
        return (running ?? .due, next)
    }
}

extension RateBudget {
    func snapshot(at now: Moment) -> BudgetSnapshot {
        let server = serverView(at: now)
        return BudgetSnapshot(
            limit: limit, used: usedInWindow(at: now), remaining: remaining(at: now), nextRelease: nextRelease(at: now),
            serverRemaining: server?.remaining, serverResetAt: server?.resetAt)
    }
}
