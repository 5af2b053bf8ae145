import Foundation

/// Braze's `X-RateLimit-*` response headers.
///
/// They may come from a proxy rather than Braze, so every value is parsed defensively:
/// garbage, inf and nan are nil; counts are clamped to `0...maxCount`; a reset in epoch
/// milliseconds is converted to seconds. Nothing read here can trap later.
public struct RateLimitHeaders: Sendable, Equatable {
    public var limit: Int?
    public var remaining: Int?
    /// When the window resets, in epoch seconds, within `0..<maxEpochSeconds`.
    public var reset: Int64?

    /// The largest count believed; real limits are in the hundreds.
    public static let maxCount = Int(Int32.max)
    /// Epoch seconds below this are seconds (it is the year 5138); from here to 1000 times it,
    /// milliseconds. Anything larger is nonsense.
    public static let maxEpochSeconds: Double = 1e11

    public init(limit: Int? = nil, remaining: Int? = nil, reset: Int64? = nil) {
        self.limit = limit
        self.remaining = remaining
        self.reset = reset
    }

    /// Reads the headers from `(name, value)` pairs; names are case-insensitive.
    init(headers: [(name: String, value: String)]) {
        func value(_ name: String) -> String? {
            headers.last { $0.name.caseInsensitiveCompare(name) == .orderedSame }?.value
        }
        limit = value("X-RateLimit-Limit").flatMap(Self.count)
        remaining = value("X-RateLimit-Remaining").flatMap(Self.count)
        reset = value("X-RateLimit-Reset").flatMap(Self.epochSeconds)
    }

    /// A request count: rounded down, a negative one is 0 (nothing left), a huge one `maxCount`.
    static func count(_ text: String) -> Int? {
        guard let value = number(text) else { return nil }
        return Int(min(max(value, 0), Double(maxCount)).rounded(.down))
    }

    /// Epoch seconds, rounded up (some proxies send fractions), or milliseconds converted.
    static func epochSeconds(_ text: String) -> Int64? {
        guard let value = number(text), value >= 0 else { return nil }
        let seconds = value < maxEpochSeconds ? value : value / 1000
        guard seconds < maxEpochSeconds else { return nil }
        return Int64(seconds.rounded(.up))
    }

    /// A finite decimal number; nil for garbage, inf, nan and over-long text.
    private static func number(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count <= 64, let value = Double(trimmed), value.isFinite else { return nil }
        return value
    }
}

/// What a CDI response means for the caller.
public enum CDIOutcome: Sendable, Equatable {
    /// 202 on a trigger, 200 on a read.
    case accepted
    /// 429 "Another job is in progress": a job already runs for the integration.
    case inProgress
    /// Any other 429: the workspace's rate limit is exhausted.
    case rateLimited
    /// 400: the integration ID is malformed.
    case invalidID
    /// 404: no such integration in the workspace.
    case notFound
    /// 401: invalid key or wrong instance.
    case unauthorized
    /// 403: the key lacks the permission or the plan.
    case forbidden
    /// 5xx and any other unexpected status.
    case serverError(status: Int)
    /// No HTTP response: connection failure, timeout, cancellation.
    case networkError(String)

    /// Classifies a response by status, telling the two 429s apart by message and then by headers.
    init(status: Int, message: String?, rateLimit: RateLimitHeaders) {
        switch status {
        case 200..<300: self = .accepted
        case 400: self = .invalidID
        case 401: self = .unauthorized
        case 403: self = .forbidden
        case 404: self = .notFound
        case 429:
            if let message {
                self = message.localizedCaseInsensitiveContains("in progress") ? .inProgress : .rateLimited
            } else if let remaining = rateLimit.remaining, remaining > 0 {
                // Tokens left, so the 429 cannot be about the rate limit.
                self = .inProgress
            } else {
                self = .rateLimited
            }
        default: self = .serverError(status: status)
        }
    }
}

/// A classified CDI response. `status` is 0 for a network error.
public struct CDIResponse<Body: Sendable>: Sendable {
    public var outcome: CDIOutcome
    public var status: Int
    public var rateLimit: RateLimitHeaders
    /// The body's `message` field, if any.
    public var message: String?
    /// The decoded body of a successful response.
    public var body: Body?

    public init(outcome: CDIOutcome, status: Int, rateLimit: RateLimitHeaders = .init(), message: String? = nil, body: Body? = nil) {
        self.outcome = outcome
        self.status = status
        self.rateLimit = rateLimit
        self.message = message
        self.body = body
    }
}

extension CDIResponse: Equatable where Body: Equatable {}

/// One entry of `GET /cdi/integrations/{id}/job_sync_status`.
public struct JobSyncStatus: Sendable, Equatable, Codable {
    /// running, success, partial, error or config_error; always lowercased.
    public var jobStatus: String
    public var syncStartTime: String?
    public var syncFinishTime: String?
    public var lastTimestampSynced: String?
    public var rowsSynced: Int?
    public var rowsFailedWithErrors: Int?

    public var isRunning: Bool { jobStatus == "running" }

    public init(
        jobStatus: String, syncStartTime: String? = nil, syncFinishTime: String? = nil,
        lastTimestampSynced: String? = nil, rowsSynced: Int? = nil, rowsFailedWithErrors: Int? = nil
    ) {
        self.jobStatus = jobStatus.lowercased()
        self.syncStartTime = syncStartTime
        self.syncFinishTime = syncFinishTime
        self.lastTimestampSynced = lastTimestampSynced
        self.rowsSynced = rowsSynced
        self.rowsFailedWithErrors = rowsFailedWithErrors
    }

    enum CodingKeys: String, CodingKey {
        case jobStatus = "job_status"
        case syncStartTime = "sync_start_time"
        case syncFinishTime = "sync_finish_time"
        case lastTimestampSynced = "last_timestamp_synced"
        case rowsSynced = "rows_synced"
        case rowsFailedWithErrors = "rows_failed_with_errors"
    }

    /// A row count that is only informational: a fraction, a negative or an out-of-range number
    /// (or a string) must not make the whole status page unreadable, so it becomes nil or is clamped.
    private static func rowCount(_ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) -> Int? {
        if let value = try? c.decodeIfPresent(Int.self, forKey: key) { return max(value, 0) }
        guard let value = try? c.decodeIfPresent(Double.self, forKey: key), value.isFinite else { return nil }
        return Int(min(max(value, 0), 1e15).rounded(.down))
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            jobStatus: try c.decode(String.self, forKey: .jobStatus),
            syncStartTime: try c.decodeIfPresent(String.self, forKey: .syncStartTime),
            syncFinishTime: try c.decodeIfPresent(String.self, forKey: .syncFinishTime),
            lastTimestampSynced: try c.decodeIfPresent(String.self, forKey: .lastTimestampSynced),
            rowsSynced: Self.rowCount(c, .rowsSynced),
            rowsFailedWithErrors: Self.rowCount(c, .rowsFailedWithErrors)
        )
    }
}

/// One page of job statuses, newest first.
public struct JobSyncStatusPage: Sendable, Equatable {
    public var results: [JobSyncStatus]
    /// Pass to the next call to get the following page; nil on the last page.
    public var nextCursor: String?

    public init(results: [JobSyncStatus], nextCursor: String? = nil) {
        self.results = results
        self.nextCursor = nextCursor
    }
}

/// One entry of `GET /cdi/integrations`. Everything but the ID is optional, so new or missing fields never fail a decode.
public struct Integration: Sendable, Codable, Equatable {
    public var id: String
    public var appGroupID: String?
    public var name: String?
    public var type: String?
    public var status: String?
    public var contactEmails: String?
    public var lastUpdatedAt: String?
    public var warehouseType: String?
    public var lastJobStartTime: String?
    public var lastJobStatus: String?
    public var nextScheduledRun: String?

    public init(
        id: String, appGroupID: String? = nil, name: String? = nil, type: String? = nil, status: String? = nil,
        contactEmails: String? = nil, lastUpdatedAt: String? = nil, warehouseType: String? = nil,
        lastJobStartTime: String? = nil, lastJobStatus: String? = nil, nextScheduledRun: String? = nil
    ) {
        self.id = id
        self.appGroupID = appGroupID
        self.name = name
        self.type = type
        self.status = status
        self.contactEmails = contactEmails
        self.lastUpdatedAt = lastUpdatedAt
        self.warehouseType = warehouseType
        self.lastJobStartTime = lastJobStartTime
        self.lastJobStatus = lastJobStatus
        self.nextScheduledRun = nextScheduledRun
    }

    enum CodingKeys: String, CodingKey {
        case id = "integration_id"
        case appGroupID = "app_group_id"
        case name = "integration_name"
        case type = "integration_type"
        case status = "integration_status"
        case contactEmails = "contact_emails"
        case lastUpdatedAt = "last_updated_at"
        case warehouseType = "warehouse_type"
        case lastJobStartTime = "last_job_start_time"
        case lastJobStatus = "last_job_status"
        case nextScheduledRun = "next_scheduled_run"
    }
}

/// One page of integrations.
public struct IntegrationPage: Sendable, Equatable {
    public var results: [Integration]
    /// Pass to the next call to get the following page; nil on the last page.
    public var nextCursor: String?

    public init(results: [Integration], nextCursor: String? = nil) {
        self.results = results
        self.nextCursor = nextCursor
    }
}
