import Foundation

/// Limits the coordinator keeps for one target.
public struct TargetLimits: Equatable, Sendable {
    public var triggers: RateLimit
    public var statuses: RateLimit
    /// Set for a target that only forwards requests (fleet mode's stage one): it flushes each
    /// dirty integration this long after its first event, and "accepted" means delivered to the
    /// requests topic, so no job is waited for. The rules' coalescing is applied by stage two.
    public var forwardEvery: Duration?

    public init(triggers: RateLimit, statuses: RateLimit, forwardEvery: Duration? = nil) {
        self.triggers = triggers
        self.statuses = statuses
        self.forwardEvery = forwardEvery
    }

    public static let braze = TargetLimits(triggers: .brazeTriggers, statuses: .brazeStatuses)
}

public struct CoordinatorSettings: Sendable {
    public var targets: [String: TargetLimits]
    public var retry: RetryPolicy
    /// The long backoff of a paused target (401/403) between probes.
    public var pausedRetry: RetryPolicy
    /// When to poll a job first if no duration has been learned yet.
    public var firstPollGuess: Duration
    /// Bounds of the interval between polls of a running job; within them the interval is a
    /// twentieth of the job's age, so a longer job is polled less often.
    public var pollInterval: ClosedRange<Duration>
    /// The shortest interval between polls of one running job, used while the target's status
    /// budget has room for every dirty running job to be polled that often; below
    /// `pollInterval.lowerBound`, so that a short job's end is seen promptly.
    public var fastPollInterval: Duration
    /// Padding on every rate window for the time between spending a token and the request
    /// reaching Braze (see `RateBudget.margin`).
    public var sendMargin: Duration

    public init(
        targets: [String: TargetLimits],
        retry: RetryPolicy = .default,
        pausedRetry: RetryPolicy? = nil,
        firstPollGuess: Duration = .seconds(5),
        pollInterval: ClosedRange<Duration> = .seconds(2) ... .seconds(30),
        fastPollInterval: Duration = .milliseconds(300),
        sendMargin: Duration = .zero
    ) {
        // At least a millisecond: the poll floor divides by it.
        self.fastPollInterval = max(.milliseconds(1), min(fastPollInterval, pollInterval.lowerBound))
        self.sendMargin = sendMargin
        self.targets = targets
        self.retry = retry
        self.pausedRetry = pausedRetry ?? .pausing(under: retry)
        self.firstPollGuess = firstPollGuess
        self.pollInterval = pollInterval
    }
}

/// The pure, deterministic decision maker of SyncBridge.
///
/// It owns coalescing (G3), each integration's job state and the no-wasted-calls policy
/// (G2), the rate budgets (G4), the response policy (G5, G6) and the offset ledger that
/// decides what may be committed (G1). It performs no I/O and reads no clock: every
/// input carries the current `Moment`, and every output is a `CoordinatorAction` for the
/// shell to carry out, plus `nextDeadline`, when it wants to be ticked again.
public struct Coordinator: Sendable {
    struct PendingEvent: Sendable {
        var ref: EventRef
        var consumedAt: Moment
    }

    enum InFlight: Sendable {
        case trigger(batch: [PendingEvent], sentAt: Moment, probe: Bool)
        case status(sentAt: Moment)
    }

    enum Job: Sendable {
        case idle
        /// A job we started (or found running) that has not been seen to finish.
        case running(since: Moment, nextPollAt: Moment)
        /// No record says whether a job runs (a cautious start): poll status before triggering.
        case unknown
    }

    struct Integration: Sendable {
        var policy: CoalescePolicy
        var pending: [PendingEvent] = []
        var lastEventAt = Moment.origin
        var inFlight: InFlight?
        var job = Job.idle
        var retryAt: Moment?
        var failures = 0
        var disabledStatus: Int?
        var recentDurations: [Duration] = []
        var activity = IntegrationActivity()

        var firstPendingAt: Moment? { pending.first?.consumedAt }

        /// Adds a pending event; true when it is the first and nothing is in flight (then the
        /// integration has just become active).
        mutating func add(_ event: PendingEvent, policy: CoalescePolicy, lastAt: Moment) -> Bool {
            let wasIdle = pending.isEmpty && inFlight == nil
            self.policy = pending.isEmpty ? policy : self.policy.tightened(by: policy)
            pending.append(event)
            lastEventAt = max(lastEventAt, lastAt)
            activity.timeline.add(.events, at: lastAt)
            return wasIdle
        }

        /// When this integration wants its next trigger or poll; nil while a call is in flight,
        /// nothing waits or it is disabled. `forwardEvery` is its target's, if that forwards.
        func dueTime(forwardEvery: Duration?, shuttingDown: Bool, now: Moment) -> Moment? {
            guard inFlight == nil, let oldest = firstPendingAt, disabledStatus == nil else { return nil }
            var due: Moment
            switch job {
            case .running(_, let nextPollAt):
                due = nextPollAt
            case .unknown:
                due = now
            case .idle:
                if let forwardEvery {
                    due = shuttingDown ? now : oldest + forwardEvery
                } else {
                    due = shuttingDown ? now : min(lastEventAt + policy.quiet, oldest + policy.maxDelay)
                }
            }
            if let retryAt { due = max(due, retryAt) }
            return due
        }
    }

    struct Pause: Sendable {
        var status: Int
        var probeAt: Moment
        var attempts: Int
    }

    struct Target: Sendable {
        var name: String
        var triggers: RateBudget
        var statuses: RateBudget
        var pause: Pause?
        var probeInFlight = false
        var statusForbidden = false
        var rateLimitedStreak = 0
        /// No state record was found for this target: integrations not seen yet start `.unknown`.
        var cautious = false
    }

    public let settings: CoordinatorSettings
    private let anyTargetForwards: Bool
    var integrations: [IntegrationKey: Integration] = [:]
    /// Integrations with pending events or a request in flight: the only ones `schedule` visits.
    private var active: Set<IntegrationKey> = []
    var targets: [String: Target]
    private var ledger = OffsetLedger()
    private var deadLetters: [UInt64: [EventRef]] = [:]
    private var nextDeadLetterID: UInt64 = 1
    private var random: SplitMix64
    private var shuttingDown = false
    /// When to call `tick` next; it may be early (then `tick` does nothing and sets a later one).
    public private(set) var nextDeadline: Moment?

    public init(settings: CoordinatorSettings, seed: UInt64 = 0x5EED) {
        self.settings = settings
        self.anyTargetForwards = settings.targets.values.contains { $0.forwardEvery != nil }
        self.random = SplitMix64(seed: seed)
        self.targets = Dictionary(
            uniqueKeysWithValues: settings.targets.map { name, limits in
                (
                    name,
                    Target(
                        name: name, triggers: RateBudget(limit: limits.triggers, margin: settings.sendMargin),
                        statuses: RateBudget(limit: limits.statuses, margin: settings.sendMargin)
                    )
                )
            })
    }

    // MARK: - Inputs

    /// A consumed event and the integrations the rules mapped it to. `deadLetterReason`
    /// is set when the event itself must be dead-lettered (G8). `span` is set when the event
    /// stands for several consumed earlier (a fleet-mode request record): the first and last
    /// of them, so coalescing and latency stay exact across the hop. Cheap: call `tick` when
    /// `nextDeadline` has passed rather than after every event.
    public mutating func eventConsumed(
        _ event: EventRef,
        demands: [IntegrationKey: CoalescePolicy],
        deadLetterReason: String? = nil,
        span: ClosedRange<Moment>?,
        at now: Moment
    ) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        record(event, demands: demands, deadLetterReason: deadLetterReason, span: span, at: now, into: &actions)
        appendCommits(to: &actions)
        return actions
    }

    /// Many consumed events at once, in order: the same as one `eventConsumed` each, with the
    /// commits they free gathered into one action (the shell's hot path calls this per batch).
    public mutating func eventsConsumed(_ events: [ConsumedEvent], at now: Moment) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        for event in events {
            record(event.ref, demands: event.demands, deadLetterReason: event.deadLetterReason, span: event.span, at: now, into: &actions)
        }
        appendCommits(to: &actions)
        return actions
    }

    private mutating func record(
        _ event: EventRef, demands: [IntegrationKey: CoalescePolicy], deadLetterReason: String?, span: ClosedRange<Moment>?, at now: Moment,
        into actions: inout [CoordinatorAction]
    ) {
        ledger.record(event, outstanding: demands.count + (deadLetterReason == nil ? 0 : 1))
        if let deadLetterReason {
            actions.append(.deadLetter(orderDeadLetter([event], reason: deadLetterReason, integration: nil, status: nil)))
        }
        if demands.count == 1 {
            for (key, policy) in demands { addPending(event, to: key, policy: policy, span: span, at: now, into: &actions) }
        } else {
            for (key, policy) in demands.sorted(by: { $0.key < $1.key }) {
                addPending(event, to: key, policy: policy, span: span, at: now, into: &actions)
            }
        }
    }

    /// One hash of `key` per event: the state is found by index and changed in place (a
    /// copied-out state would copy its whole `pending` array, and each look-up hashes the ID again).
    private mutating func addPending(
        _ event: EventRef, to key: IntegrationKey, policy: CoalescePolicy, span: ClosedRange<Moment>?, at now: Moment,
        into actions: inout [CoordinatorAction]
    ) {
        let index: [IntegrationKey: Integration].Index
        if let found = integrations.index(forKey: key) {
            if let status = Self.disabledStatus(of: &integrations.values[found]) {
                actions.append(.deadLetter(orderDeadLetter([event], reason: Self.reason(forStatus: status), integration: key, status: status)))
                return
            }
            index = found
        } else {
            integrations[key] = newIntegration(key, policy: policy)
            index = integrations.index(forKey: key)!
        }
        let pending = PendingEvent(ref: event, consumedAt: min(span?.lowerBound ?? now, now))
        if integrations.values[index].add(pending, policy: policy, lastAt: min(span?.upperBound ?? now, now)) { active.insert(key) }
        let forwardEvery = forwardEvery(key.target)
        let due = Self.dueTime(of: &integrations.values[index], forwardEvery: forwardEvery, shuttingDown: shuttingDown, now: now)
        if let due { nextDeadline = min(nextDeadline ?? due, due) }
    }

    /// Reads through `inout`, so the state is not copied out to be read (2 % of the consumer
    /// thread at 100 % matching).
    private static func disabledStatus(of state: inout Integration) -> Int? { state.disabledStatus }

    /// Reads the due time through `inout`, so the state is not copied out to be read.
    private static func dueTime(of state: inout Integration, forwardEvery: Duration?, shuttingDown: Bool, now: Moment) -> Moment? {
        state.dueTime(forwardEvery: forwardEvery, shuttingDown: shuttingDown, now: now)
    }

    public mutating func eventConsumed(
        _ event: EventRef, demands: [IntegrationKey: CoalescePolicy], deadLetterReason: String? = nil, at now: Moment
    ) -> [CoordinatorAction] {
        eventConsumed(event, demands: demands, deadLetterReason: deadLetterReason, span: nil, at: now)
    }

    public mutating func tick(at now: Moment) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        schedule(now, into: &actions)
        appendCommits(to: &actions)
        return actions
    }

    public mutating func triggerCompleted(
        _ key: IntegrationKey, result: TriggerResult, rateLimit hint: RateLimitHint = .none, at now: Moment
    ) -> [CoordinatorAction] {
        guard let index = integrations.index(forKey: key), case .trigger(let batch, let sentAt, let probe)? = integrations.values[index].inFlight
        else { return [] }
        // Recorded in place before the state is copied out: recorded on the copy, the history's
        // buffers (still shared with the dictionary's entry) were copied whole on every completion.
        integrations.values[index].activity.record(
            CallRecord(kind: .trigger, sentAt: sentAt, completedAt: now, outcome: result.detailLabel, events: batch.count), lane: .init(result))
        var state = integrations.values[index]
        var actions: [CoordinatorAction] = []
        state.inFlight = nil
        var target = targets[key.target]!
        target.triggers.observe(remaining: hint.remaining, resetAt: hint.resetAt, now: now)
        if probe { target.probeInFlight = false }
        if result != .rateLimited { target.rateLimitedStreak = 0 }

        switch result {
        case .accepted:
            for event in batch { ledger.resolve(event.ref) }
            actions.append(.covered(key, latencies: batch.map { now - $0.consumedAt }))
            state.job =
                settings.targets[key.target]?.forwardEvery != nil
                ? .idle : .running(since: sentAt, nextPollAt: sentAt + firstPollDelay(state, target: key.target, now: now))
            state.failures = 0
            state.retryAt = nil
            if target.pause != nil {
                target.pause = nil
                actions.append(.resumeTarget(key.target))
            }
        case .inProgress:
            // Not coverage (G1): that job may have started before the data landed.
            state.pending = batch + state.pending
            let pollAt: Moment
            if target.statusForbidden {
                state.failures += 1
                pollAt = now + Backoff(policy: settings.retry).delay(attempt: state.failures - 1, using: &random)
            } else {
                pollAt = now + settings.pollInterval.lowerBound
            }
            state.job = .running(since: now, nextPollAt: pollAt)
        case .rateLimited:
            state.pending = batch + state.pending
            target.rateLimitedStreak += 1
            let resetAt =
                hint.resetAt.flatMap { $0 > now ? $0 : nil }
                ?? now + Backoff(policy: settings.retry).delay(attempt: target.rateLimitedStreak - 1, using: &random)
            target.triggers.block(until: resetAt)
        case .invalidID, .notFound:
            let status = result == .invalidID ? 400 : 404
            state.disabledStatus = status
            let events = (batch + state.pending).map(\.ref)
            state.pending = []
            actions.append(.disableIntegration(key, status: status))
            actions.append(.deadLetter(orderDeadLetter(events, reason: Self.reason(forStatus: status), integration: key, status: status)))
        case .unauthorized, .forbidden:
            state.pending = batch + state.pending
            // Requests already in flight when the target was paused do not lengthen the pause.
            if target.pause == nil || probe {
                pause(&target, status: result == .unauthorized ? 401 : 403, at: now, into: &actions)
            }
        case .serverError, .networkError:
            state.pending = batch + state.pending
            state.failures += 1
            var retryAt = now + Backoff(policy: settings.retry).delay(attempt: state.failures - 1, using: &random)
            if hint.remaining == 0, let reset = hint.resetAt { retryAt = max(retryAt, reset) }
            state.retryAt = retryAt
        }
        targets[key.target] = target
        integrations[key] = state
        schedule(now, into: &actions)
        appendCommits(to: &actions)
        return actions
    }

    public mutating func statusCompleted(
        _ key: IntegrationKey, result: StatusResult, rateLimit hint: RateLimitHint = .none, at now: Moment
    ) -> [CoordinatorAction] {
        guard let index = integrations.index(forKey: key), case .status(let sentAt)? = integrations.values[index].inFlight else { return [] }
        var jobDuration: Duration?
        if case .finished(let duration) = result { jobDuration = duration }
        // In place, as in `triggerCompleted`.
        integrations.values[index].activity.record(
            CallRecord(
                kind: .status, sentAt: sentAt, completedAt: now, outcome: result.label, events: integrations.values[index].pending.count,
                jobDuration: jobDuration),
            lane: .polls)
        var state = integrations.values[index]
        var actions: [CoordinatorAction] = []
        state.inFlight = nil
        var target = targets[key.target]!
        target.statuses.observe(remaining: hint.remaining, resetAt: hint.resetAt, now: now)
        // The next poll's interval depends on what this answer says is left of the budget.
        targets[key.target] = target

        switch (result, state.job) {
        case (.running, .running(let since, _)):
            state.failures = 0
            state.job = .running(since: since, nextPollAt: now + pollInterval(jobAge: now - since, target: key.target, now: now))
        case (.finished(let duration), .running(let since, _)):
            learn(duration ?? (now - since), into: &state)
            state.failures = 0
            state.job = .idle
        case (.running, .unknown):
            // Found running after a cautious start: its start is unknown, so poll from now.
            state.failures = 0
            state.job = .running(since: now, nextPollAt: now + settings.pollInterval.lowerBound)
        case (.finished(let duration), .unknown):
            if let duration { learn(duration, into: &state) }
            state.failures = 0
            state.job = .idle
        case (.noJobs, _), (.notFound, _), (.finished, .idle), (.running, .idle):
            state.job = .idle
        case (.rateLimited, _):
            target.statuses.block(until: hint.resetAt.flatMap { $0 > now ? $0 : nil } ?? now + settings.pollInterval.upperBound)
        case (.unauthorized, _):
            if target.pause == nil { pause(&target, status: 401, at: now, into: &actions) }
        case (.forbidden, _):
            // No permission for status: probe with triggers instead (issue: fall back to probing).
            target.statusForbidden = true
        case (.failed, .running(let since, _)):
            // G6: a failing status endpoint is retried with backoff, never sooner than a normal poll.
            state.failures += 1
            let backoff = Backoff(policy: settings.retry).delay(attempt: state.failures - 1, using: &random)
            state.job = .running(since: since, nextPollAt: now + max(pollInterval(jobAge: now - since, target: key.target, now: now), backoff))
        case (.failed, .unknown):
            state.failures += 1
            state.retryAt = now + Backoff(policy: settings.retry).delay(attempt: state.failures - 1, using: &random)
        case (.failed, .idle):
            break
        }
        targets[key.target] = target
        integrations[key] = state
        schedule(now, into: &actions)
        appendCommits(to: &actions)
        return actions
    }

    /// The shell wrote a dead-letter order to its topic (or logged it, without a topic).
    public mutating func deadLettersWritten(_ id: UInt64, at now: Moment) -> [CoordinatorAction] {
        var actions: [CoordinatorAction] = []
        for event in deadLetters.removeValue(forKey: id) ?? [] { ledger.resolve(event) }
        appendCommits(to: &actions)
        return actions
    }

    /// Revoked partitions: forget their events without triggering for them.
    public mutating func partitionsRevoked(_ partitions: Set<PartitionID>, at now: Moment) -> [CoordinatorAction] {
        for partition in partitions { ledger.drop(partition) }
        for key in active {
            guard var state = integrations[key] else { continue }
            state.pending.removeAll { partitions.contains($0.ref.partition) }
            if case .trigger(let batch, let sentAt, let probe)? = state.inFlight {
                state.inFlight = .trigger(batch: batch.filter { !partitions.contains($0.ref.partition) }, sentAt: sentAt, probe: probe)
            }
            integrations[key] = state
        }
        for (id, events) in deadLetters { deadLetters[id] = events.filter { !partitions.contains($0.partition) } }
        return tick(at: now)
    }

    /// New rules: integrations disabled by 400/404 may be called again.
    public mutating func rulesChanged() {
        for key in integrations.keys where integrations[key]?.disabledStatus != nil { integrations[key]?.disabledStatus = nil }
    }

    /// Shutdown: every dirty integration is triggered now, still under G2 and G4.
    public mutating func beginShutdown(at now: Moment) -> [CoordinatorAction] {
        shuttingDown = true
        return tick(at: now)
    }

    // MARK: - Queries

    /// Events consumed but not yet covered or dead-lettered.
    public var uncommittedEvents: Int { ledger.outstandingEvents }

    /// Uncommitted events per partition (partitions with none are omitted).
    public var uncommittedByPartition: [PartitionID: Int] { ledger.outstandingByPartition }

    /// Nothing waits: every consumed event is covered or dead-lettered.
    public var isDrained: Bool { ledger.outstandingEvents == 0 }

    public func pendingIntegrations(target: String) -> Int {
        active.filter { $0.target == target && !(integrations[$0]?.pending.isEmpty ?? true) }.count
    }

    /// Targets paused by 401/403, with the status that paused them.
    public var pausedTargets: [String: Int] { targets.compactMapValues { $0.pause?.status } }

    public var ledgerRuns: Int { ledger.runCount }

    // MARK: - Scheduling

    private mutating func schedule(_ now: Moment, into actions: inout [CoordinatorAction]) {
        var deadline: Moment?
        func wake(_ moment: Moment) { deadline = min(deadline ?? moment, moment) }
        var triggerReady: [(IntegrationKey, Moment)] = []
        var pollReady: [(IntegrationKey, Moment)] = []

        // States are read in place: copying each one out cost a retain and release per field, per tick.
        for key in active {
            let index = integrations.index(forKey: key)!
            if integrations.values[index].inFlight != nil { continue }
            guard let oldest = integrations.values[index].firstPendingAt else {
                active.remove(key)
                continue
            }
            let due = Self.dueTime(
                of: &integrations.values[index], forwardEvery: forwardEvery(key.target), shuttingDown: shuttingDown, now: now)
            guard let due else { continue }
            let job = integrations.values[index].job
            if due > now {
                wake(due)
            } else if job.wantsPoll, !targets[key.target]!.statusForbidden, !(job.isUnknown && targets[key.target]!.pause != nil) {
                // (A paused target probes with triggers; an unknown job there is probed like an idle one.)
                pollReady.append((key, oldest))
            } else {
                triggerReady.append((key, oldest))
            }
        }
        // G4: when tokens are short, the oldest uncovered event goes first.
        let byAge: ((IntegrationKey, Moment), (IntegrationKey, Moment)) -> Bool = { ($0.1, $0.0) < ($1.1, $1.0) }

        // Budgets are spent in place: spent on a copy, the window's record of sends was copied whole.
        for (key, _) in triggerReady.sorted(by: byAge) {
            var probe = false
            if let pause = targets[key.target]!.pause {
                if targets[key.target]!.probeInFlight { continue }
                if pause.probeAt > now {
                    wake(pause.probeAt)
                    continue
                }
                probe = true
            }
            let available = targets[key.target]!.triggers.availableAt(now)
            guard available <= now else {
                wake(available)
                continue
            }
            targets[key.target]!.triggers.consume(now)
            if probe { targets[key.target]!.probeInFlight = true }
            var state = integrations[key]!
            state.inFlight = .trigger(batch: state.pending, sentAt: now, probe: probe)
            state.pending = []
            integrations[key] = state
            actions.append(.trigger(key))
        }

        for (key, _) in pollReady.sorted(by: byAge) {
            if let pause = targets[key.target]!.pause {
                wake(pause.probeAt)
                continue
            }
            let available = targets[key.target]!.statuses.availableAt(now)
            guard available <= now else {
                wake(available)
                continue
            }
            targets[key.target]!.statuses.consume(now)
            integrations[key]!.inFlight = .status(sentAt: now)
            actions.append(.pollStatus(key))
        }
        nextDeadline = deadline
    }

    /// When an integration with pending events next wants attention, ignoring budgets.
    func dueTime(_ key: IntegrationKey, _ state: Integration, now: Moment) -> Moment? {
        state.dueTime(forwardEvery: forwardEvery(key.target), shuttingDown: shuttingDown, now: now)
    }

    /// The flush interval of a forwarding target; looked up only when some target forwards,
    /// since the per-event path asks for it.
    private func forwardEvery(_ target: String) -> Duration? {
        anyTargetForwards ? settings.targets[target]?.forwardEvery : nil
    }

    private func newIntegration(_ key: IntegrationKey, policy: CoalescePolicy) -> Integration {
        var integration = Integration(policy: policy)
        if targets[key.target]?.cautious == true { integration.job = .unknown }
        return integration
    }

    private func pause(_ target: inout Target, status: Int, at now: Moment, into actions: inout [CoordinatorAction]) {
        let attempts = (target.pause?.attempts ?? 0) + 1
        if target.pause == nil { actions.append(.pauseTarget(target.name, status: status)) }
        target.pause = Pause(status: status, probeAt: now + Backoff(policy: settings.pausedRetry).ceiling(attempt: attempts - 1), attempts: attempts)
    }

    /// The first poll of a job comes after the shortest duration learned, or the guess.
    private func firstPollDelay(learned durations: [Duration]) -> Duration {
        durations.min() ?? settings.firstPollGuess
    }

    /// As `firstPollDelay`, but with nothing learned yet the first poll comes at the fast
    /// interval while the status budget affords fast polling (see `pollFloor`): a first job
    /// shorter than the guess is then seen ending promptly, with tokens that would go unused.
    private func firstPollDelay(_ state: Integration, target: String, now: Moment) -> Duration {
        guard state.recentDurations.isEmpty, pollFloor(target: target, now: now) == settings.fastPollInterval else {
            return firstPollDelay(learned: state.recentDurations)
        }
        return min(settings.firstPollGuess, settings.fastPollInterval)
    }

    /// The wait before polling a running job again. Waiting events are released only when a
    /// poll sees the job end, so the poll interval is the latency added to them: a twentieth
    /// of the job's age bounds it to about 5% of the job's duration, the latency they cannot
    /// avoid. (An interval that grows with the number of polls restarts short for every
    /// newly dirty integration but reaches the upper bound during long waits, which is
    /// exactly where the slowest events sit.) That is about 14 polls per doubling of age;
    /// when many jobs are polled at once the status budget (G4) spaces them, oldest first.
    ///
    /// The floor of that interval follows the status budget. While the window has tokens left
    /// (beyond a quarter of `status_rate_limit` kept spare) for every running job with waiting
    /// events to be polled every `fastPollInterval` for the next few seconds, the floor is that
    /// interval; otherwise it is the usual one, and the budget spaces the polls, oldest waiting
    /// event first.
    private func pollInterval(jobAge: Duration, target: String, now: Moment) -> Duration {
        min(settings.pollInterval.upperBound, max(pollFloor(target: target, now: now), jobAge.scaled(by: 0.05)))
    }

    private func pollFloor(target: String, now: Moment) -> Duration {
        guard let limit = settings.targets[target]?.statuses, limit.count > 0, let budget = targets[target]?.statuses else {
            return settings.pollInterval.lowerBound
        }
        let polled = max(
            1,
            active.reduce(into: 0) { count, key in
                guard key.target == target, let index = integrations.index(forKey: key), integrations.values[index].job.wantsPoll,
                    !integrations.values[index].pending.isEmpty
                else { return }
                count += 1
            })
        let spendable = budget.remaining(at: now) - limit.count / 4
        let fastPolls = polled * Int(Self.fastPollHorizon / settings.fastPollInterval)
        return spendable >= fastPolls ? settings.fastPollInterval : settings.pollInterval.lowerBound
    }

    /// How far ahead fast polling must be affordable.
    static let fastPollHorizon = Duration.seconds(5)

    private func learn(_ duration: Duration, into state: inout Integration) {
        state.recentDurations.append(duration)
        if state.recentDurations.count > 8 { state.recentDurations.removeFirst() }
    }

    private mutating func orderDeadLetter(_ events: [EventRef], reason: String, integration: IntegrationKey?, status: Int?) -> DeadLetterOrder {
        let id = nextDeadLetterID
        nextDeadLetterID += 1
        deadLetters[id] = events
        return DeadLetterOrder(id: id, events: events, reason: reason, integration: integration, status: status)
    }

    private mutating func appendCommits(to actions: inout [CoordinatorAction]) {
        let offsets = ledger.takeCommittable()
        if !offsets.isEmpty { actions.append(.commit(offsets)) }
    }

    static func reason(forStatus status: Int) -> String {
        status == 400 ? "invalid_integration_id" : "integration_not_found"
    }
}

extension Coordinator.Job {
    var isUnknown: Bool {
        if case .unknown = self { return true }
        return false
    }

    var wantsPoll: Bool {
        switch self {
        case .running, .unknown: return true
        case .idle: return false
        }
    }
}

// MARK: - Scheduling state (fleet mode's state topic)

extension Coordinator {
    /// The targets this coordinator schedules for.
    public var targetNames: [String] { targets.keys.sorted() }

    /// What a new owner of `target` needs: budget spent inside its windows, job states,
    /// learned durations and disabled integrations. A trigger still in flight counts as a job
    /// that may be running, so the new owner polls before it triggers.
    public func schedule(for target: String, clock: WallClock) -> TargetSchedule? {
        guard let budgets = targets[target] else { return nil }
        let now = clock.now
        var entries: [IntegrationSchedule] = []
        // Read in place under the coordinator's lock, which this holds before every Braze call:
        // copying each state out cost a retain and release per field of every integration.
        for index in integrations.indices where integrations.keys[index].target == target {
            let durations = integrations.values[index].recentDurations
            var entry = IntegrationSchedule(
                id: integrations.keys[index].integrationID, job: .idle, durations: durations.map(\.seconds),
                disabledStatus: integrations.values[index].disabledStatus
            )
            let sentAt: Moment? = if case .trigger(_, let sentAt, _)? = integrations.values[index].inFlight { sentAt } else { nil }
            switch (integrations.values[index].job, sentAt) {
            case (.running(let since, let nextPollAt), _):
                entry.job = .running
                entry.runningSince = clock.epoch(since)
                entry.nextPollAt = clock.epoch(nextPollAt)
            case (.idle, let sentAt?):
                entry.job = .running
                entry.runningSince = clock.epoch(sentAt)
                entry.nextPollAt = clock.epoch(sentAt + firstPollDelay(learned: durations))
            case (.unknown, _):
                entry.job = .unknown
            case (.idle, _):
                if entry.durations.isEmpty && entry.disabledStatus == nil { continue }
            }
            entries.append(entry)
        }
        return TargetSchedule(
            target: target, writtenAt: clock.epochNow,
            triggersSent: budgets.triggers.sentInWindow(at: now).map(clock.epoch),
            statusesSent: budgets.statuses.sentInWindow(at: now).map(clock.epoch),
            triggersBlockedUntil: budgets.triggers.serverBlock(at: now).map(clock.epoch),
            statusesBlockedUntil: budgets.statuses.serverBlock(at: now).map(clock.epoch),
            integrations: entries.sorted { $0.id < $1.id }
        )
    }

    /// Takes over `target` from the record another owner (or an earlier run) wrote; with no
    /// usable record, starts cautiously: every integration polls status before its first trigger,
    /// and the budget relies on the server's `X-RateLimit-*` headers. Pending events and requests
    /// in flight are kept.
    public mutating func restore(_ schedule: TargetSchedule?, target name: String, clock: WallClock) {
        guard var target = targets[name] else { return }
        let now = clock.now
        guard let schedule else {
            target.cautious = true
            targets[name] = target
            for (key, state) in integrations where key.target == name {
                if case .idle = state.job, state.inFlight == nil { integrations[key]!.job = .unknown }
            }
            return
        }
        target.cautious = false
        target.triggers.restore(
            sent: schedule.triggersSent.map(clock.moment), blockedUntil: schedule.triggersBlockedUntil.map(clock.moment), now: now)
        target.statuses.restore(
            sent: schedule.statusesSent.map(clock.moment), blockedUntil: schedule.statusesBlockedUntil.map(clock.moment), now: now)
        targets[name] = target
        // Only IDs the rules could name: a record cannot plant integrations nothing will ever call.
        let restored = Dictionary(
            schedule.integrations.filter { canonicalIntegrationID($0.id) == $0.id }.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var keys = Set(integrations.keys.filter { $0.target == name })
        keys.formUnion(restored.keys.map { IntegrationKey(target: name, integrationID: $0) })
        for key in keys {
            var state = integrations[key] ?? Integration(policy: CoalescePolicy(quiet: .zero, maxDelay: .zero))
            let entry = restored[key.integrationID]
            state.recentDurations = (entry?.durations ?? []).suffix(8).map {
                Duration.seconds(fractional: min(max($0, 0), Self.maxLearnedDuration.seconds))
            }
            state.disabledStatus = entry?.disabledStatus.flatMap { [400, 404].contains($0) ? $0 : nil }
            if state.inFlight == nil {
                switch entry?.job {
                case .running?:
                    let since = clock.moment(entry?.runningSince ?? clock.epochNow)
                    let pollAt = clock.moment(entry?.nextPollAt ?? clock.epochNow)
                    state.job = .running(since: min(since, now), nextPollAt: min(max(pollAt, now), now + Self.maxLearnedDuration))
                case .unknown?:
                    state.job = .unknown
                case .idle?, nil:
                    state.job = .idle
                }
            }
            integrations[key] = state
            if !state.pending.isEmpty { active.insert(key) }
        }
        if let due = keys.compactMap({ dueTime($0, integrations[$0]!, now: now) }).min() { nextDeadline = min(nextDeadline ?? due, due) }
    }

    /// The batch a trigger in flight carries: how many events, the first and last consumed, and
    /// the coalescing policy they wait under. Fleet mode's stage one forwards it as a request.
    public func inFlightBatch(_ key: IntegrationKey) -> (count: Int, first: Moment, last: Moment, policy: CoalescePolicy)? {
        guard let state = integrations[key], case .trigger(let batch, _, _)? = state.inFlight,
            let first = batch.map(\.consumedAt).min(), let last = batch.map(\.consumedAt).max()
        else { return nil }
        return (batch.count, first, last, state.policy)
    }

    /// Learned durations are capped like Braze's own job times (a day).
    static let maxLearnedDuration = Duration.seconds(86_400)
}
