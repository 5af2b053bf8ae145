import Foundation

/// The body of `GET /v1/integrations` and `GET /v1/integrations/{id}`: a coordinator snapshot
/// in wall-clock time, and what `syncbridge inspect` and the status page read. Keys are
/// snake_case on the wire, times RFC 3339 in UTC with milliseconds.
public struct IntegrationsDocument: Codable, Equatable, Sendable {
    public var generatedAt: String
    public var mode: String
    public var targets: [Target]
    public var integrations: [Integration]

    public struct Target: Codable, Equatable, Sendable {
        public var name: String
        public var triggers: Budget
        public var statuses: Budget
        public var paused: Pause?
        public var statusForbidden: Bool
    }

    public struct Budget: Codable, Equatable, Sendable {
        public var used: Int
        public var limit: Int
        public var windowSeconds: Double
        public var remaining: Int
        public var nextReleaseAt: String?
        public var serverRemaining: Int?
        public var serverResetAt: String?
    }

    public struct Pause: Codable, Equatable, Sendable {
        public var status: Int
        public var nextProbeAt: String?
    }

    public struct Integration: Codable, Equatable, Sendable {
        public var target: String
        public var id: String
        public var state: String
        public var pendingEvents: Int
        public var oldestPendingAt: String?
        public var oldestPendingAgeSeconds: Double?
        public var lastEventAt: String?
        public var nextAction: Action?
        public var jobRunningSince: String?
        public var jobUnknown: Bool
        public var failures: Int
        public var retryAt: String?
        public var disabledStatus: Int?
        public var learnedDurationsSeconds: [Double]
        public var lastTrigger: Call?
        public var lastStatus: Call?
        public var rules: [String]
        public var timeline: Timeline
        public var history: [Call]?
    }

    public struct Action: Codable, Equatable, Sendable {
        public var kind: String
        public var at: String
        public var inSeconds: Double
    }

    public struct Call: Codable, Equatable, Sendable {
        public var kind: String
        public var sentAt: String
        public var completedAt: String
        public var latencyMs: Double
        public var outcome: String
        public var events: Int
        public var jobDurationSeconds: Double?
    }

    /// Counts per bucket, oldest first; lanes that are all zero are left out.
    public struct Timeline: Codable, Equatable, Sendable {
        public var start: String
        public var bucketSeconds: Double
        public var lanes: [String: [Int]]
    }

    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}

extension IntegrationsDocument {
    /// `rules` names, for each integration, the rules that can feed it: those that list its ID,
    /// or take IDs from events and allow it.
    public init(_ snapshot: CoordinatorSnapshot, clock: WallClock, mode: String, rules: [Rule]) {
        let time = { (moment: Moment) in Self.timestamp(clock.epoch(moment)) }
        let seconds = { (moment: Moment) in (moment - snapshot.at).seconds.roundedToMilliseconds }
        func budget(_ view: BudgetSnapshot) -> Budget {
            Budget(
                used: view.used, limit: view.limit.count, windowSeconds: view.limit.window.seconds, remaining: view.remaining,
                nextReleaseAt: view.nextRelease.map(time), serverRemaining: view.serverRemaining, serverResetAt: view.serverResetAt.map(time))
        }
        func call(_ record: CallRecord) -> Call {
            Call(
                kind: record.kind.rawValue, sentAt: time(record.sentAt), completedAt: time(record.completedAt),
                latencyMs: (record.latency.seconds * 1000).roundedToMilliseconds, outcome: record.outcome, events: record.events,
                jobDurationSeconds: record.jobDuration.map { $0.seconds.roundedToMilliseconds })
        }
        generatedAt = time(snapshot.at)
        self.mode = mode
        targets = snapshot.targets.map { view in
            Target(
                name: view.name, triggers: budget(view.triggers), statuses: budget(view.statuses),
                paused: view.pausedStatus.map { Pause(status: $0, nextProbeAt: view.nextProbeAt.map(time)) }, statusForbidden: view.statusForbidden)
        }
        integrations = snapshot.integrations.map { view in
            var lanes: [String: [Int]] = [:]
            for lane in ActivityTimeline.Lane.allCases {
                let counts = view.timeline.map { Int($0.counts[lane.rawValue]) }
                if counts.contains(where: { $0 != 0 }) { lanes[lane.label] = counts }
            }
            return Integration(
                target: view.key.target, id: view.key.integrationID, state: view.phase.rawValue, pendingEvents: view.pendingEvents,
                oldestPendingAt: view.oldestPendingAt.map(time), oldestPendingAgeSeconds: view.oldestPendingAt.map { -seconds($0) },
                lastEventAt: view.lastEventAt.map(time),
                nextAction: view.next.map { Action(kind: $0.kind.rawValue, at: time($0.at), inSeconds: max(0, seconds($0.at))) },
                jobRunningSince: view.jobRunningSince.map(time), jobUnknown: view.jobUnknown, failures: view.failures,
                retryAt: view.retryAt.map(time), disabledStatus: view.disabledStatus,
                learnedDurationsSeconds: view.learnedDurations.map { $0.seconds.roundedToMilliseconds },
                lastTrigger: view.lastTrigger.map(call), lastStatus: view.lastStatus.map(call),
                rules: rules.filter { $0.canFeed(view.key) }.map(\.name),
                timeline: Timeline(
                    start: view.timeline.first.map { time($0.start) } ?? time(snapshot.at), bucketSeconds: ActivityTimeline.bucket.seconds,
                    lanes: lanes),
                history: view.history?.map(call))
        }
    }

    static func timestamp(_ epochSeconds: Double) -> String { RFC3339.string(epochSeconds: epochSeconds) }
}

extension Rule {
    func canFeed(_ key: IntegrationKey) -> Bool {
        guard target == key.target else { return false }
        switch integrations {
        case .fixed(let ids): return ids.contains { canonicalIntegrationID($0) == key.integrationID }
        case .fromEvent(_, let allowed?): return allowed.contains { canonicalIntegrationID($0) == key.integrationID }
        case .fromEvent(_, nil): return true
        }
    }
}

extension Double {
    fileprivate var roundedToMilliseconds: Double { (self * 1000).rounded() / 1000 }
}
