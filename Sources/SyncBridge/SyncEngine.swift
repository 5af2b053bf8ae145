import BrazeCDI
import Foundation
import Kafka
import Logging
import SyncBridgeCore
import Synchronization

/// Carries out the coordinator's actions: trigger and status calls through the Braze
/// client (or, in fleet mode's stage one, request records to the requests topic), dead
/// letters through the producer, commits handed to the consumer thread, the state topic's
/// write-ahead before each call, and the log lines and metrics that go with them. It decides
/// nothing itself.
final class SyncEngine: Sendable {
    /// What "trigger" means for this engine's targets.
    enum Role: Sendable {
        /// Braze calls: direct mode, and fleet mode's stage two.
        case scheduler
        /// Fleet mode's stage one: a request record on the requests topic.
        case forwarder(RequestForwarder)
    }

    let coordinator: Mutex<Coordinator>
    let role: Role
    /// Where scheduling state is written before calls and restored from; nil when off.
    let stateStore: SchedulingStateStore?
    let clock: ServiceClock
    let metrics: ServiceMetrics
    let logger: Logger
    let payloads = PayloadStore()
    /// Whether records are kept for dead letters: only a dead-letter topic reads them back.
    var keepsPayloads: Bool { deadLetters.writesRecords }
    let rules: Mutex<RuleSet>
    /// Bumped after each rules swap, so the consumer thread's per-batch copy is refreshed at once.
    let rulesVersion = Atomic<Int>(0)
    let timer = DeadlineTimer()
    private let clients: TargetClients
    private let deadLetters: DeadLetterWriter
    private let commits = Mutex<[PartitionID: Int64]>([:])
    private let pausedTargets = Mutex<[String: Int]>([:])
    /// Every call, record and write this engine starts; `SyncService.run` runs and awaits them.
    let requests = EngineRequests()
    /// Lets the demo and tests watch what the service does.
    let observer: SyncObserver?

    init(
        coordinator: Coordinator, role: Role = .scheduler, stateStore: SchedulingStateStore? = nil, rules: RuleSet, clients: TargetClients,
        deadLetters: DeadLetterWriter, metrics: ServiceMetrics, logger: Logger, observer: SyncObserver?
    ) {
        self.coordinator = Mutex(coordinator)
        self.role = role
        self.stateStore = stateStore
        self.rules = Mutex(rules)
        self.clock = ServiceClock()
        self.clients = clients
        self.deadLetters = deadLetters
        self.metrics = metrics
        self.logger = logger
        self.observer = observer
    }

    /// Runs one coordinator input and carries out what it asks for.
    func input(_ body: (inout Coordinator, Moment) -> [CoordinatorAction]) {
        let now = clock.now()
        let (actions, deadline) = coordinator.withLock { coordinator in (body(&coordinator, now), coordinator.nextDeadline) }
        timer.deadlineChanged(to: deadline)
        perform(actions)
    }

    /// Ticks the coordinator if its deadline has passed; returns the next deadline, for the timer.
    func tickIfDue() -> Moment? {
        let now = clock.now()
        let (actions, next) = coordinator.withLock { coordinator -> ([CoordinatorAction], Moment?) in
            var actions: [CoordinatorAction] = []
            if let deadline = coordinator.nextDeadline, deadline <= now { actions = coordinator.tick(at: now) }
            timer.arm(for: coordinator.nextDeadline)
            return (actions, coordinator.nextDeadline)
        }
        perform(actions)
        return next
    }

    /// Commits waiting for the consumer thread, which owns the consumer handle: all of them, or
    /// those of `partitions`, leaving the others waiting.
    func takeCommits(for partitions: Set<PartitionID>? = nil) -> [PartitionID: Int64] {
        commits.withLock { pending in
            guard let partitions else {
                defer { pending.removeAll() }
                return pending
            }
            let taken = pending.filter { partitions.contains($0.key) }
            for partition in taken.keys { pending[partition] = nil }
            return taken
        }
    }

    func forgetCommits(for partitions: Set<PartitionID>) {
        commits.withLock { pending in for partition in partitions { pending[partition] = nil } }
    }

    var paused: [String: Int] { pausedTargets.withLock { $0 } }
    var requestsInFlight: Int { requests.progress.inFlight }

    func perform(_ actions: [CoordinatorAction]) {
        var calls: [CoordinatorAction] = []
        for action in actions {
            switch action {
            case .trigger, .pollStatus: calls.append(action)
            case .commit(let offsets):
                // Covered events are never dead-lettered, so their records go now, not when Kafka confirms the commit.
                for (partition, next) in offsets { payloads.committed(partition, nextOffset: next) }
                commits.withLock { $0.merge(offsets) { max($0, $1) } }
            case .deadLetter(let order): requests.start { await self.writeDeadLetters(order) }
            case .pauseTarget(let target, let status):
                pausedTargets.withLock { $0[target] = status }
                logger.error(
                    "target answered HTTP \(status): \(status == 401 ? "the API key is invalid or belongs to another Braze instance; check the key and the endpoint's region" : "the API key lacks the cdi.integration_sync permission, or CDI is not on your plan; grant it in the Braze dashboard (Settings > APIs and Identifiers)"). Paused; nothing is committed meanwhile and calls are retried with a long backoff.",
                    metadata: ["target": "\(target)", "status": "\(status)"]
                )
            case .resumeTarget(let target):
                pausedTargets.withLock { $0[target] = nil }
                logger.notice("target accepts calls again; resumed", metadata: ["target": "\(target)"])
            case .disableIntegration(let key, let status):
                logger.error(
                    "integration answered HTTP \(status) (\(status == 400 ? "Invalid integration ID" : "Integration not found")): its waiting events are dead-lettered and it is not called again until the rules change. Fix the ID in the rules (or create the integration in Braze) and reload.",
                    metadata: key.logMetadata(["status": "\(status)"])
                )
            case .covered(let key, let latencies):
                guard case .scheduler = role else { break }
                metrics.covered(latencies: latencies)
                observer?.covered(key, latencies.count)
            }
        }
        guard !calls.isEmpty else { return }
        // The budget these calls spend is on the state topic before Braze sees them, so no later
        // owner spends it again, even after a kill -9.
        if case .scheduler = role, let stateStore {
            requests.start { [calls] in
                await stateStore.writeAhead(Array(Set(calls.compactMap(\.target))), engine: self)
                for call in calls { self.requests.start { await self.call(call) } }
            }
        } else {
            for call in calls { requests.start { await self.call(call) } }
        }
    }

    private func call(_ action: CoordinatorAction) async {
        switch action {
        case .trigger(let key): await trigger(key)
        case .pollStatus(let key): await pollStatus(key)
        default: break
        }
    }

    private func trigger(_ key: IntegrationKey) async {
        if case .forwarder(let forwarder) = role {
            await forward(key, through: forwarder)
            return
        }
        if paused[key.target] != nil { clients.refreshKey(for: key.target) }
        guard let client = clients.client(for: key.target) else { return }
        let response = await client.triggerSync(integrationID: key.integrationID)
        let result = TriggerResult(response.outcome)
        metrics.trigger(target: key.target, outcome: result.outcomeLabel)
        if case .networkError(let message) = response.outcome {
            logger.warning(
                "trigger failed; retrying with backoff", metadata: key.logMetadata(["outcome": "\(result.outcomeLabel)", "error": "\(message)"]))
        } else if case .serverError(let status) = response.outcome {
            logger.warning(
                "trigger answered a server error; retrying with backoff",
                metadata: key.logMetadata(["outcome": "\(result.outcomeLabel)", "status": "\(status)"]))
        }
        let hint = RateLimitHint(response.rateLimit, clock: clock)
        input { $0.triggerCompleted(key, result: result, rateLimit: hint, at: $1) }
    }

    /// Stage one: the flushed batch becomes one request record; delivered means covered here.
    private func forward(_ key: IntegrationKey, through forwarder: RequestForwarder) async {
        let batch = coordinator.withLock { coordinator -> RequestRecord? in
            guard let batch = coordinator.inFlightBatch(key) else { return nil }
            let wall = WallClock(now: clock.now(), epochNow: Date().timeIntervalSince1970)
            return RequestRecord(
                key: key, events: batch.count, firstConsumedAt: wall.epoch(batch.first), lastConsumedAt: wall.epoch(batch.last), policy: batch.policy)
        }
        var result = TriggerResult.accepted
        if let batch {
            do {
                try await forwarder.forward(batch)
                metrics.forwarded(target: key.target, outcome: "delivered")
            } catch {
                metrics.forwarded(target: key.target, outcome: "failed")
                logger.warning(
                    "cannot forward a request to the requests topic; retrying with backoff",
                    metadata: key.logMetadata(["topic": "\(forwarder.topic)", "error": "\(error)"]))
                result = .networkError
            }
        }
        input { $0.triggerCompleted(key, result: result, at: $1) }
    }

    private func pollStatus(_ key: IntegrationKey) async {
        guard let client = clients.client(for: key.target) else { return }
        let response = await client.jobSyncStatus(integrationID: key.integrationID)
        let result = StatusResult(response)
        metrics.status(target: key.target, outcome: result.outcomeLabel)
        let hint = RateLimitHint(response.rateLimit, clock: clock)
        input { $0.statusCompleted(key, result: result, rateLimit: hint, at: $1) }
    }

    private func writeDeadLetters(_ order: DeadLetterOrder) async {
        var attempt = 0
        while !isStopping {
            do {
                try await deadLetters.write(order, payloads: payloads)
                metrics.deadLetter(reason: order.reason, count: order.events.count)
                observer?.deadLettered(order)
                input { $0.deadLettersWritten(order.id, at: $1) }
                return
            } catch {
                // Once shutdown has closed the producer, retrying cannot succeed.
                guard !isStopping else { break }
                attempt += 1
                let delay = Duration.seconds(min(60, 1 << min(attempt, 6)))
                let fix =
                    (error as? KafkaError).map { failure in
                        failure.isFatal
                            ? " The producer hit a fatal error; restart the process."
                            : failure.isRetriable
                                ? ""
                                : " Retrying alone will not help: check that the dead-letter topic exists, is writable and accepts records this large (message.max.bytes)."
                    } ?? ""
                logger.error(
                    "cannot write dead letters: \(error); retrying in \(delay.configText), nothing is committed meanwhile.\(fix)",
                    metadata: ["reason": "\(order.reason)", "events": "\(order.events.count)"]
                )
                // In short steps, so a shutdown ends the wait promptly.
                let retryAt = ContinuousClock.now + delay
                while ContinuousClock.now < retryAt, !isStopping {
                    do { try await Task.sleep(for: min(.milliseconds(250), retryAt - ContinuousClock.now)) } catch { return }
                }
            }
        }
        logger.warning(
            "stopping with dead letters not written; their events stay uncommitted and are redelivered on restart",
            metadata: ["reason": "\(order.reason)", "events": "\(order.events.count)"]
        )
    }

    /// Set by shutdown before it closes the producer: retry loops end instead of spinning on it.
    private let stopping = Atomic<Bool>(false)
    var isStopping: Bool { stopping.load(ordering: .relaxed) }
    func stop() { stopping.store(true, ordering: .relaxed) }
}

/// Hooks for the demo and the end-to-end tests.
public protocol SyncObserver: Sendable {
    func consumed(_ event: EventRef, integrations: [IntegrationKey], at: Date)
    func covered(_ key: IntegrationKey, _ events: Int)
    func committed(_ offsets: [PartitionID: Int64])
    func deadLettered(_ order: DeadLetterOrder)
}

extension SyncObserver {
    public func covered(_ key: IntegrationKey, _ events: Int) {}
    public func committed(_ offsets: [PartitionID: Int64]) {}
    public func deadLettered(_ order: DeadLetterOrder) {}
}

extension IntegrationKey {
    /// `target` and `integration` log fields, with `extra`.
    func logMetadata(_ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        extra.merging(["target": "\(target)", "integration": "\(integrationID)"]) { $1 }
    }
}

extension CoordinatorAction {
    /// The target a Braze call is for.
    var target: String? {
        switch self {
        case .trigger(let key), .pollStatus(let key): return key.target
        default: return nil
        }
    }
}
