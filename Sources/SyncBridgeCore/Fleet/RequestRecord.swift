import Foundation

/// Fleet mode's hop between the stages: one record per dirty integration per flush, on the
/// requests topic, keyed by target. It carries what stage two's coordinator needs to coalesce
/// and measure as if it had consumed the events itself.
public struct RequestRecord: Codable, Equatable, Sendable {
    public var version = RequestRecord.currentVersion
    public var target: String
    public var integrationID: String
    /// Source events this request stands for.
    public var events: Int
    /// When stage one consumed the first and the last of them (epoch seconds).
    public var firstConsumedAt: Double
    public var lastConsumedAt: Double
    /// The rules' coalescing for them, tightened over every rule that matched.
    public var quietMilliseconds: Int64
    public var maxDelayMilliseconds: Int64

    public static let currentVersion = 1

    public init(key: IntegrationKey, events: Int, firstConsumedAt: Double, lastConsumedAt: Double, policy: CoalescePolicy) {
        target = key.target
        integrationID = key.integrationID
        self.events = events
        self.firstConsumedAt = firstConsumedAt
        self.lastConsumedAt = lastConsumedAt
        quietMilliseconds = Int64(saturating: policy.quiet.seconds * 1000)
        maxDelayMilliseconds = Int64(saturating: policy.maxDelay.seconds * 1000)
    }

    public var key: IntegrationKey { IntegrationKey(target: target, integrationID: integrationID) }

    /// When its events were consumed, on this process's clock (clamped; never reversed).
    public func span(on clock: WallClock) -> ClosedRange<Moment> {
        let first = clock.moment(firstConsumedAt)
        return first...max(first, clock.moment(lastConsumedAt))
    }

    public var policy: CoalescePolicy {
        let cap = ConfigLimits.maxDuration.seconds * 1000
        func clamp(_ milliseconds: Int64) -> Duration { .milliseconds(Int64(min(max(Double(milliseconds), 0), cap))) }
        return CoalescePolicy(quiet: clamp(quietMilliseconds), maxDelay: clamp(maxDelayMilliseconds))
    }
}

/// Encodes request records, and decodes them as untrusted input: anything but a current record
/// for a configured target and a UUID integration is refused (then dead-lettered, G8).
public struct RequestCodec: Sendable {
    public let targets: Set<String>
    public static let maxRecordBytes = 64 << 10

    public init(targets: Set<String>) { self.targets = targets }

    public func encode(_ record: RequestRecord) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return (try? Array(encoder.encode(record))) ?? []
    }

    public func decode(_ bytes: [UInt8]?) -> RequestRecord? {
        guard let bytes, !bytes.isEmpty, bytes.count <= Self.maxRecordBytes,
            let record = try? JSONDecoder().decode(RequestRecord.self, from: Data(bytes)),
            record.version == RequestRecord.currentVersion, targets.contains(record.target),
            canonicalIntegrationID(record.integrationID) == record.integrationID, record.events > 0,
            record.firstConsumedAt.isFinite, record.lastConsumedAt.isFinite
        else { return nil }
        return record
    }
}

/// Which requests-topic partition carries a target: every member computes the same answer, so
/// the owner of that partition is the target's only scheduler. FNV-1a, stable across processes
/// and versions (Swift's `hashValue` is seeded per process).
public enum RequestPartitioner {
    public static func partition(for target: String, count: Int32) -> Int32 {
        guard count > 1 else { return 0 }
        var hash: UInt32 = 2_166_136_261
        for byte in target.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return Int32(hash % UInt32(count))
    }

    /// The targets each partition carries.
    public static func targetsByPartition(_ targets: [String], count: Int32) -> [Int32: [String]] {
        Dictionary(grouping: targets) { partition(for: $0, count: count) }
    }
}
