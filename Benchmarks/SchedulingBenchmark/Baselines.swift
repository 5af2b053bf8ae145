import DequeModule
import SchedulingLab
import SyncBridgeCore

/// An event waiting for an accepted trigger of one integration.
struct WaitingEvent {
    var ref: EventRef
    var consumedAt: Moment
}

/// One trigger per event-integration pair the moment the event is consumed; a failed
/// trigger is retried after a fixed delay. No coalescing, no job state, no rate budget:
/// what a plain webhook-to-API forwarder does.
struct NaiveScheduler: SyncScheduler {
    var retryDelay: Duration = .seconds(5)
    private var waiting: [IntegrationKey: [WaitingEvent]] = [:]
    /// Send times of the triggers in flight; the harness answers each integration in order.
    private var sent: [IntegrationKey: Deque<Moment>] = [:]
    private var retryAt: [IntegrationKey: Moment] = [:]
    private var ledger = OffsetLedger()
    private(set) var nextDeadline: Moment?

    mutating func eventConsumed(
        _ event: EventRef, demands: [IntegrationKey: CoalescePolicy], deadLetterReason: String?, at now: Moment
    ) -> [CoordinatorAction] {
        ledger.record(event, outstanding: demands.count)
        var actions: [CoordinatorAction] = []
        for key in demands.keys.sorted() {
            waiting[key, default: []].append(WaitingEvent(ref: event, consumedAt: now))
            sent[key, default: []].append(now)
            actions.append(.trigger(key))
        }
        return actions + commits()
    }

    mutating func tick(at now: Moment) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        for (key, due) in retryAt.sorted(by: { ($0.value, $0.key) < ($1.value, $1.key) }) where due <= now {
            retryAt[key] = nil
            guard waiting[key]?.isEmpty == false else { continue }
            sent[key, default: []].append(now)
            actions.append(.trigger(key))
        }
        nextDeadline = retryAt.values.min()
        return actions
    }

    mutating func triggerCompleted(_ key: IntegrationKey, result: TriggerResult, rateLimit hint: RateLimitHint, at now: Moment) -> [CoordinatorAction]
    {
        guard let sentAt = sent[key]?.popFirst() else { return [] }
        let events = waiting[key] ?? []
        if result == .accepted {
            // An accepted trigger covers everything consumed before it was sent (G1).
            for event in events where event.consumedAt <= sentAt { ledger.resolve(event.ref) }
            waiting[key] = events.filter { $0.consumedAt > sentAt }
        } else if events.contains(where: { $0.consumedAt <= sentAt }), retryAt[key] == nil {
            retryAt[key] = now + retryDelay
            nextDeadline = min(nextDeadline ?? now + retryDelay, now + retryDelay)
        }
        return commits()
    }

    mutating func statusCompleted(_ key: IntegrationKey, result: StatusResult, rateLimit hint: RateLimitHint, at now: Moment) -> [CoordinatorAction] {
        []
    }

    mutating func deadLettersWritten(_ id: UInt64, at now: Moment) -> [CoordinatorAction] { [] }

    private mutating func commits() -> [CoordinatorAction] {
        let offsets = ledger.takeCommittable()
        return offsets.isEmpty ? [] : [.commit(offsets)]
    }
}

/// Coalesces like the coordinator (quiet / max delay, oldest first within a sliding-window
/// trigger budget) but differs in how it learns that a job is running:
///
/// - debounce-only (`jobEnd == nil`): it does not; a 429 in progress is retried after
///   `inProgressBackoff`, and it never asks for job status.
/// - oracle (`jobEnd` set): it reads each job's true end from the virtual Braze and waits
///   for it, so it makes no status calls and never sees a 429 in progress.
struct CoalescingScheduler: SyncScheduler {
    struct Integration {
        var policy: CoalescePolicy
        var pending: [WaitingEvent] = []
        var lastEventAt = Moment.origin
        var inFlight: [WaitingEvent]?
        var retryAt: Moment?
    }

    let jobEnd: ((IntegrationKey, Moment) -> Moment?)?
    var inProgressBackoff: Duration = .seconds(15)
    private var budgets: [String: RateBudget]
    private var integrations: [IntegrationKey: Integration] = [:]
    private var ledger = OffsetLedger()
    private(set) var nextDeadline: Moment?

    static func debounceOnly(limits: [String: TargetLimits]) -> Self { Self(limits: limits, jobEnd: nil) }

    static func oracle(limits: [String: TargetLimits], braze: VirtualBraze) -> Self {
        Self(limits: limits, jobEnd: { braze.runningJobEnd($0, at: $1) })
    }

    init(limits: [String: TargetLimits], jobEnd: ((IntegrationKey, Moment) -> Moment?)?) {
        self.jobEnd = jobEnd
        budgets = limits.mapValues { RateBudget(limit: $0.triggers) }
    }

    mutating func eventConsumed(
        _ event: EventRef, demands: [IntegrationKey: CoalescePolicy], deadLetterReason: String?, at now: Moment
    ) -> [CoordinatorAction] {
        ledger.record(event, outstanding: demands.count)
        for (key, policy) in demands {
            var state = integrations[key] ?? Integration(policy: policy)
            state.policy = state.pending.isEmpty ? policy : state.policy.tightened(by: policy)
            state.pending.append(WaitingEvent(ref: event, consumedAt: now))
            state.lastEventAt = now
            integrations[key] = state
            if let due = dueTime(key, state, now: now) { nextDeadline = min(nextDeadline ?? due, due) }
        }
        return commits()
    }

    mutating func tick(at now: Moment) -> [CoordinatorAction] {
        var deadline: Moment?
        func wake(_ moment: Moment) { deadline = min(deadline ?? moment, moment) }
        var ready: [(key: IntegrationKey, oldest: Moment)] = []
        for (key, state) in integrations {
            guard let due = dueTime(key, state, now: now) else { continue }
            if due > now { wake(due) } else { ready.append((key, state.pending[0].consumedAt)) }
        }
        var actions: [CoordinatorAction] = []
        for (key, _) in ready.sorted(by: { ($0.oldest, $0.key) < ($1.oldest, $1.key) }) {
            let available = budgets[key.target]!.availableAt(now)
            guard available <= now else {
                wake(available)
                continue
            }
            budgets[key.target]!.consume(now)
            integrations[key]!.inFlight = integrations[key]!.pending
            integrations[key]!.pending = []
            actions.append(.trigger(key))
        }
        nextDeadline = deadline
        return actions
    }

    mutating func triggerCompleted(_ key: IntegrationKey, result: TriggerResult, rateLimit hint: RateLimitHint, at now: Moment) -> [CoordinatorAction]
    {
        guard var state = integrations[key], let batch = state.inFlight else { return [] }
        state.inFlight = nil
        if result == .accepted {
            for event in batch { ledger.resolve(event.ref) }
            state.retryAt = nil
        } else {
            state.pending = batch + state.pending
            state.retryAt = now + inProgressBackoff
        }
        integrations[key] = state
        return tick(at: now) + commits()
    }

    mutating func statusCompleted(_ key: IntegrationKey, result: StatusResult, rateLimit hint: RateLimitHint, at now: Moment) -> [CoordinatorAction] {
        []
    }

    mutating func deadLettersWritten(_ id: UInt64, at now: Moment) -> [CoordinatorAction] { [] }

    /// When coalescing lets the integration go, delayed by a retry or (oracle) a running job.
    private func dueTime(_ key: IntegrationKey, _ state: Integration, now: Moment) -> Moment? {
        guard state.inFlight == nil, let oldest = state.pending.first?.consumedAt else { return nil }
        var due = min(state.lastEventAt + state.policy.quiet, oldest + state.policy.maxDelay)
        if let retryAt = state.retryAt { due = max(due, retryAt) }
        if let end = jobEnd?(key, now) { due = max(due, end) }
        return due
    }

    private mutating func commits() -> [CoordinatorAction] {
        let offsets = ledger.takeCommittable()
        return offsets.isEmpty ? [] : [.commit(offsets)]
    }
}
