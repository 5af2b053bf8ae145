import DequeModule

/// One Braze call the coordinator made for an integration, as the operator's view shows it.
public struct CallRecord: Equatable, Sendable {
    public enum Kind: String, Sendable {
        case trigger, status
    }

    public var kind: Kind
    public var sentAt: Moment
    public var completedAt: Moment
    /// `TriggerResult.detailLabel` or `StatusResult.label`.
    public var outcome: String
    /// The events an accepted trigger covered, or that a refused one carried.
    public var events: Int
    /// A finished job's duration, when a status answer gave one.
    public var jobDuration: Duration?

    public var latency: Duration { completedAt - sentAt }
}

/// What happened to one integration lately: the last `CallHistory.limit` calls, and counts per
/// `ActivityTimeline.bucket` over the last `ActivityTimeline.span`, for the status page.
/// Bounded whatever the traffic: a fixed number of calls and buckets.
public struct IntegrationActivity: Sendable {
    public static let historyLimit = 100

    public private(set) var history: Deque<CallRecord> = []
    public private(set) var lastTrigger: CallRecord?
    public private(set) var lastStatus: CallRecord?
    var timeline = ActivityTimeline()

    mutating func record(_ call: CallRecord, lane: ActivityTimeline.Lane) {
        if history.count == Self.historyLimit { history.removeFirst() }
        history.append(call)
        switch call.kind {
        case .trigger: lastTrigger = call
        case .status: lastStatus = call
        }
        timeline.add(lane, at: call.sentAt)
    }
}

/// Counts of events, polls and triggers by outcome in fixed buckets, in a ring that holds
/// `span`; nothing is allocated until the first count.
public struct ActivityTimeline: Sendable {
    public static let bucket = Duration.seconds(30)
    public static let bucketCount = 60
    public static var span: Duration { bucket * bucketCount }

    /// One counter per lane, in this order, in a `SIMD8`.
    public enum Lane: Int, CaseIterable, Sendable {
        case events, polls, accepted, inProgress, rateLimited, clientError, serverError, networkError

        /// The name used in the JSON view: the trigger lanes are `TriggerResult.outcomeLabel`s.
        public var label: String {
            switch self {
            case .events: return "events"
            case .polls: return "polls"
            case .accepted: return "accepted"
            case .inProgress: return "in_progress"
            case .rateLimited: return "rate_limited"
            case .clientError: return "client_error"
            case .serverError: return "server_error"
            case .networkError: return "network_error"
            }
        }

        init(_ result: TriggerResult) {
            switch result {
            case .accepted: self = .accepted
            case .inProgress: self = .inProgress
            case .rateLimited: self = .rateLimited
            case .invalidID, .notFound, .unauthorized, .forbidden: self = .clientError
            case .serverError: self = .serverError
            case .networkError: self = .networkError
            }
        }
    }

    /// Bucket numbers since the origin, and their counts; index `bucket % bucketCount`.
    private var slots: [(number: Int64, counts: SIMD8<Int32>)] = []

    mutating func add(_ lane: Lane, count: Int = 1, at moment: Moment) {
        let number = Self.number(of: moment)
        if slots.isEmpty { slots = Array(repeating: (-1, .zero), count: Self.bucketCount) }
        let index = Int(number % Int64(Self.bucketCount))
        if slots[index].number != number { slots[index] = (number, .zero) }
        let (sum, overflow) = slots[index].counts[lane.rawValue].addingReportingOverflow(Int32(clamping: count))
        slots[index].counts[lane.rawValue] = overflow ? .max : sum
    }

    /// The buckets of the span ending at `now`, oldest first, with when each starts.
    public func buckets(endingAt now: Moment) -> [(start: Moment, counts: SIMD8<Int32>)] {
        let last = Self.number(of: now)
        return (last - Int64(Self.bucketCount) + 1...last).map { number in
            let start = Moment(Self.bucket * number)
            guard number >= 0, !slots.isEmpty else { return (start, .zero) }
            let slot = slots[Int(number % Int64(Self.bucketCount))]
            return (start, slot.number == number ? slot.counts : .zero)
        }
    }

    private static func number(of moment: Moment) -> Int64 {
        max(0, moment.sinceOrigin.components.seconds / bucket.components.seconds)
    }
}

extension TriggerResult {
    /// Finer than `outcomeLabel`: which client error, which server status.
    public var detailLabel: String {
        switch self {
        case .invalidID: return "invalid_id"
        case .notFound: return "not_found"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        case .serverError(let status): return "server_error_\(status)"
        default: return outcomeLabel
        }
    }
}

extension StatusResult {
    public var label: String {
        switch self {
        case .running: return "running"
        case .finished: return "finished"
        case .noJobs: return "no_jobs"
        case .rateLimited: return "rate_limited"
        case .unauthorized: return "unauthorized"
        case .forbidden: return "forbidden"
        case .notFound: return "not_found"
        case .failed: return "failed"
        }
    }
}
