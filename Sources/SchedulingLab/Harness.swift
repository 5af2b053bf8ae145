import DequeModule
import SyncBridgeCore

/// What a scheduler must answer to; the coordinator and the benchmark's baselines conform.
public protocol SyncScheduler {
    var nextDeadline: Moment? { get }
    mutating func eventConsumed(
        _ event: EventRef, demands: [IntegrationKey: CoalescePolicy], deadLetterReason: String?, at now: Moment
    ) -> [CoordinatorAction]
    mutating func tick(at now: Moment) -> [CoordinatorAction]
    mutating func triggerCompleted(_ key: IntegrationKey, result: TriggerResult, rateLimit hint: RateLimitHint, at now: Moment) -> [CoordinatorAction]
    mutating func statusCompleted(_ key: IntegrationKey, result: StatusResult, rateLimit hint: RateLimitHint, at now: Moment) -> [CoordinatorAction]
    mutating func deadLettersWritten(_ id: UInt64, at now: Moment) -> [CoordinatorAction]
}

extension Coordinator: SyncScheduler {}

/// One event of a workload: when it is consumed, where it sits, which integrations it maps to.
public struct WorkloadEvent: Sendable {
    public var at: Moment
    public var partition: PartitionID
    public var integrations: [IntegrationKey]

    public init(at: Moment, partition: PartitionID, integrations: [IntegrationKey]) {
        self.at = at
        self.partition = partition
        self.integrations = integrations
    }
}

/// The outcome of one run, judged against the virtual Braze's ground truth.
public struct HarnessReport: Sendable {
    public var triggerCalls = 0
    public var statusCalls = 0
    public var wastedCalls = 0
    public var busiestWindow = 0
    public var busiestStatusWindow = 0
    /// Event-integration pairs with no accepted trigger sent after consumption.
    public var uncovered = 0
    /// Commits that reached past an uncovered, not dead-lettered event (G1 violations).
    public var prematureCommits: [String] = []
    /// Consumption to the first accepted trigger sent after it, per event-integration pair.
    public var latencies: [Duration] = []
    public var committed: [PartitionID: Int64] = [:]
    public var deadLettered: Set<EventRef> = []

    public func latencyPercentile(_ p: Double) -> Duration {
        guard !latencies.isEmpty else { return .zero }
        let sorted = latencies.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
}

/// Drives a scheduler against a `VirtualBraze` in virtual time: hours of traffic in milliseconds.
public struct Harness {
    public var braze: VirtualBraze
    public var policy: CoalescePolicy
    public var responseLatency: Duration
    /// Stop after this long past the last event even if work remains.
    public var drainLimit: Duration

    public init(braze: VirtualBraze, policy: CoalescePolicy, responseLatency: Duration = .milliseconds(100), drainLimit: Duration = .seconds(7200)) {
        self.braze = braze
        self.policy = policy
        self.responseLatency = responseLatency
        self.drainLimit = drainLimit
    }

    enum Response {
        case trigger(IntegrationKey, TriggerResult)
        case status(IntegrationKey, StatusResult)
        case deadLetter(UInt64)
    }

    public func run<S: SyncScheduler>(_ scheduler: inout S, events: [WorkloadEvent]) -> HarnessReport {
        var report = HarnessReport()
        var responses: [(at: Moment, response: Response)] = []
        var consumed: [PartitionID: [(offset: Int64, at: Moment, keys: [IntegrationKey])]] = [:]
        var nextOffset: [PartitionID: Int64] = [:]
        var eventIndex = 0
        var now = events.first?.at ?? .origin
        let stopAt = (events.last?.at ?? .origin) + drainLimit

        func perform(_ actions: [CoordinatorAction]) {
            for action in actions {
                switch action {
                case .trigger(let key):
                    responses.append((now + responseLatency, .trigger(key, braze.trigger(key, at: now))))
                case .pollStatus(let key):
                    responses.append((now + responseLatency, .status(key, braze.status(key, at: now))))
                case .deadLetter(let order):
                    report.deadLettered.formUnion(order.events)
                    responses.append((now + responseLatency, .deadLetter(order.id)))
                case .commit(let offsets):
                    for (partition, offset) in offsets {
                        report.committed[partition] = offset
                        for event in consumed[partition] ?? [] where event.offset < offset {
                            let ref = EventRef(partition: partition, offset: event.offset)
                            if report.deadLettered.contains(ref) { continue }
                            for key in event.keys where !braze.covered(key, consumedAt: event.at) {
                                report.prematureCommits.append("\(ref) for \(key) committed at \(now) without coverage")
                            }
                        }
                        consumed[partition]?.removeAll { $0.offset < offset }
                    }
                case .pauseTarget, .resumeTarget, .disableIntegration, .covered:
                    break
                }
            }
        }

        var all: [(offset: Int64, at: Moment, partition: PartitionID, keys: [IntegrationKey])] = []
        while now <= stopAt {
            while eventIndex < events.count, events[eventIndex].at <= now {
                let event = events[eventIndex]
                eventIndex += 1
                let offset = nextOffset[event.partition, default: 0]
                nextOffset[event.partition] = offset + 1
                consumed[event.partition, default: []].append((offset, event.at, event.integrations))
                all.append((offset, event.at, event.partition, event.integrations))
                let demands = Dictionary(event.integrations.map { ($0, policy) }, uniquingKeysWith: { a, _ in a })
                perform(
                    scheduler.eventConsumed(EventRef(partition: event.partition, offset: offset), demands: demands, deadLetterReason: nil, at: now))
            }
            responses.sort { $0.at < $1.at }
            while let first = responses.first, first.at <= now {
                responses.removeFirst()
                switch first.response {
                case .trigger(let key, let result): perform(scheduler.triggerCompleted(key, result: result, rateLimit: .none, at: now))
                case .status(let key, let result): perform(scheduler.statusCompleted(key, result: result, rateLimit: .none, at: now))
                case .deadLetter(let id): perform(scheduler.deadLettersWritten(id, at: now))
                }
            }
            if let deadline = scheduler.nextDeadline, deadline <= now { perform(scheduler.tick(at: now)) }

            let candidates = [
                eventIndex < events.count ? events[eventIndex].at : nil, responses.map(\.at).min(),
                scheduler.nextDeadline.map { max($0, now + .milliseconds(1)) },
            ]
            guard let next = candidates.compactMap({ $0 }).min() else { break }
            now = next
        }

        report.triggerCalls = braze.calls.count
        report.statusCalls = braze.statusCalls.count
        report.wastedCalls = braze.wastedCalls
        let targets = Set(braze.calls.map(\.key.target))
        report.busiestWindow = targets.map { braze.busiestWindow(target: $0) }.max() ?? 0
        report.busiestStatusWindow = targets.map { braze.busiestStatusWindow(target: $0) }.max() ?? 0
        for event in all {
            if report.deadLettered.contains(EventRef(partition: event.partition, offset: event.offset)) { continue }
            for key in event.keys {
                if let at = braze.firstCoveringTrigger(key, consumedAt: event.at) {
                    report.latencies.append(at - event.at)
                } else {
                    report.uncovered += 1
                }
            }
        }
        return report
    }
}
