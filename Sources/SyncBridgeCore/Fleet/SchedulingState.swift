import Foundation

/// One target's scheduling state as a new owner needs it (issue: fleet mode): the budget
/// spent inside its windows, each integration's job, learned durations and disabled
/// integrations. Times are wall-clock epoch seconds, so the record means the same in every
/// process; it is written to the compacted state topic, keyed by target, as JSON.
public struct TargetSchedule: Codable, Equatable, Sendable {
    public var version: Int = TargetSchedule.currentVersion
    public var target: String
    /// When the owner took this snapshot (epoch seconds).
    public var writtenAt: Double
    /// Trigger and status requests sent inside their windows, oldest first (epoch seconds).
    public var triggersSent: [Double]
    public var statusesSent: [Double]
    /// The server said none are left until then (`X-RateLimit-Remaining: 0`).
    public var triggersBlockedUntil: Double?
    public var statusesBlockedUntil: Double?
    public var integrations: [IntegrationSchedule]

    public static let currentVersion = 1
    /// Caps that keep a hostile or corrupt record from costing more than a real one.
    public static let maxIntegrations = 100_000
    public static let maxEncodedBytes = 16 << 20

    public init(
        target: String, writtenAt: Double, triggersSent: [Double], statusesSent: [Double],
        triggersBlockedUntil: Double? = nil, statusesBlockedUntil: Double? = nil, integrations: [IntegrationSchedule]
    ) {
        self.target = target
        self.writtenAt = writtenAt
        self.triggersSent = triggersSent
        self.statusesSent = statusesSent
        self.triggersBlockedUntil = triggersBlockedUntil
        self.statusesBlockedUntil = statusesBlockedUntil
        self.integrations = integrations
    }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? Array(encoder.encode(self))) ?? []
    }

    /// The record for `target`, or nil when it is missing, corrupt, of another version or
    /// names another target: the caller then starts cautiously.
    public static func decode(_ bytes: [UInt8]?, target: String) -> TargetSchedule? {
        guard let bytes, !bytes.isEmpty, bytes.count <= maxEncodedBytes,
            let schedule = try? JSONDecoder().decode(TargetSchedule.self, from: Data(bytes)),
            schedule.version == currentVersion, schedule.target == target, schedule.writtenAt.isFinite,
            schedule.integrations.count <= maxIntegrations
        else { return nil }
        return schedule
    }
}

public struct IntegrationSchedule: Codable, Equatable, Sendable {
    public enum Job: String, Codable, Sendable {
        case idle
        case running
        /// Nothing is known: poll status before triggering.
        case unknown
    }

    public var id: String
    public var job: Job
    public var runningSince: Double?
    public var nextPollAt: Double?
    /// Learned job durations, seconds.
    public var durations: [Double]
    /// 400 or 404: not called again until the rules change.
    public var disabledStatus: Int?

    public init(id: String, job: Job, runningSince: Double? = nil, nextPollAt: Double? = nil, durations: [Double] = [], disabledStatus: Int? = nil) {
        self.id = id
        self.job = job
        self.runningSince = runningSince
        self.nextPollAt = nextPollAt
        self.durations = durations
        self.disabledStatus = disabledStatus
    }
}

/// Maps the coordinator's `Moment`s to wall-clock epoch seconds and back, around one reading
/// of both clocks. Restored times are clamped to a day either side, so a record with absurd
/// times (or a badly skewed writer) cannot park anything for long.
public struct WallClock: Sendable {
    public var now: Moment
    public var epochNow: Double

    public init(now: Moment, epochNow: Double) {
        self.now = now
        self.epochNow = epochNow
    }

    public static let horizon: Double = 86_400

    public func epoch(_ moment: Moment) -> Double {
        ((epochNow + (moment - now).seconds) * 1000).rounded() / 1000
    }

    public func moment(_ epoch: Double) -> Moment {
        guard epoch.isFinite else { return now }
        return now + .seconds(fractional: min(Self.horizon, max(-Self.horizon, epoch - epochNow)))
    }
}
