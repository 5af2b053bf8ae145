import Foundation
import SyncBridgeCore

/// A CDI request as the workspace sees it.
struct CDICall: Sendable {
    var kind: SimRequest.Kind
    var method: String
    var path: String
    var authorization: String?
    var integrationID: String?
    var cursor: String?
    /// Scheme and authority used to build `Link` URLs, e.g. `http://127.0.0.1:8080`.
    var origin: String
}

/// A CDI answer before it becomes an HTTP response.
struct CDIReply: Sendable {
    var status: Int
    var message: String
    var body: Data
    var headers: [(name: String, value: String)]
}

/// The faults drawn for one request before it is answered.
struct Faults: Sendable {
    var latency: Duration?
    var dropConnection: Bool
}

/// One simulated Braze workspace: its jobs, its rate-limit windows and the request log.
/// Every decision for a request happens in one actor call, so concurrent requests see
/// a consistent state.
actor Workspace {
    private struct Job {
        var start: Double
        var finish: Double
        var rows: Int
    }

    private let config: SimulatorConfig
    /// Lowercased: Braze compares integration IDs case-insensitively.
    private let integrationIDs: Set<String>
    private let startedAt = Date().timeIntervalSince1970
    private var random: SplitMix64
    private var windows: [SimRequest.Kind: SlidingWindow]
    /// Oldest first.
    private var jobs: [String: [Job]] = [:]
    private(set) var log: [SimRequest] = []

    init(config: SimulatorConfig) {
        self.config = config
        integrationIDs = Set(config.integrations.map { $0.lowercased() })
        random = SplitMix64(seed: config.seed ?? UInt64.random(in: .min ... .max))
        windows = Self.freshWindows(config)
    }

    private static func freshWindows(_ config: SimulatorConfig) -> [SimRequest.Kind: SlidingWindow] {
        [
            .trigger: SlidingWindow(config.triggerRateLimit),
            .status: SlidingWindow(config.statusRateLimit),
            .list: SlidingWindow(config.listRateLimit),
        ]
    }

    func reset() {
        jobs = [:]
        log = []
        windows = Self.freshWindows(config)
    }

    func record(_ request: SimRequest) {
        log.append(request)
    }

    func drawFaults() -> Faults {
        let latency = config.addedLatency.map { random.duration(in: $0) }
        let drop = config.dropConnectionProbability > 0 && Double.random(in: 0..<1, using: &random) < config.dropConnectionProbability
        return Faults(latency: latency, dropConnection: drop)
    }

    func handle(_ call: CDICall, at now: Double) -> CDIReply {
        var reply = answer(call, at: now)
        if let state = windows[call.kind]?.state(at: now) {
            reply.headers += [
                ("X-RateLimit-Limit", String(state.limit)),
                ("X-RateLimit-Remaining", String(state.remaining)),
                ("X-RateLimit-Reset", String(state.reset)),
            ].map { header in (header.0, config.rateLimitHeaderOverrides[header.0] ?? header.1) }
        }
        log.append(
            SimRequest(
                method: call.method, path: call.path, integrationID: call.integrationID,
                status: reply.status, message: reply.message, receivedAt: now, kind: call.kind
            ))
        return reply
    }

    private func answer(_ call: CDICall, at now: Double) -> CDIReply {
        guard let token = Self.bearerToken(call.authorization),
            token == config.apiKey || config.forbiddenKeys.contains(token)
        else { return .message(401, "Invalid API key") }
        guard token == config.apiKey else {
            return .message(403, "The API key does not have permission to access this endpoint")
        }
        // Every authenticated request to a limited endpoint counts, whatever its answer
        // would have been; a refused request does not consume budget.
        guard windows[call.kind]?.admit(at: now) ?? true else {
            return .message(429, "API rate limit reached")
        }
        if config.serverErrorProbability > 0, Double.random(in: 0..<1, using: &random) < config.serverErrorProbability {
            return .message(500, "Internal server error")
        }
        if call.kind == .list {
            return page(integrationEntries(at: now), cursor: call.cursor, link: call.origin + call.path)
        }
        guard let rawID = call.integrationID, UUID(uuidString: rawID) != nil else {
            return .message(400, "Invalid integration ID")
        }
        let id = rawID.lowercased()
        guard integrationIDs.contains(id) else { return .message(404, "Integration not found") }

        switch call.kind {
        case .trigger:
            if let last = jobs[id]?.last, last.finish > now {
                return .message(429, "Another job is in progress")
            }
            let duration = random.duration(in: config.syncDuration)
            let job = Job(start: now, finish: now + duration.seconds, rows: Int.random(in: 0...10_000, using: &random))
            jobs[id, default: []].append(job)
            return .message(202, "success")
        case .status:
            let entries = (jobs[id] ?? []).reversed().map { Self.statusEntry($0, at: now) }
            return page(entries, cursor: call.cursor, link: call.origin + call.path)
        case .list, .other:
            return .message(404, "Not found")
        }
    }

    private func page<Entry: Encodable>(_ entries: [Entry], cursor: String?, link: String) -> CDIReply {
        var offset = 0
        if let cursor {
            guard let decoded = Cursor.offset(cursor), decoded >= 0, decoded <= entries.count else {
                return .message(400, "Invalid cursor")
            }
            offset = decoded
        }
        let end = min(offset + config.pageSize, entries.count)
        var reply = CDIReply(
            status: 200, message: "success",
            body: Self.encode(PageBody(results: Array(entries[offset..<end]), message: "success")), headers: []
        )
        if end < entries.count {
            reply.headers.append(("Link", "<\(link)?cursor=\(Cursor.make(end))>; rel=\"next\""))
        }
        return reply
    }

    private func integrationEntries(at now: Double) -> [IntegrationEntry] {
        integrationIDs.sorted().enumerated().map { index, id in
            let last = jobs[id]?.last
            return IntegrationEntry(
                integrationID: id,
                appGroupID: "00000000-0000-4000-8000-000000000000",
                integrationName: "Simulated integration \(index + 1)",
                integrationType: "users",
                integrationStatus: "active",
                contactEmails: "data-team@example.com",
                lastUpdatedAt: Self.iso8601(startedAt),
                warehouseType: "snowflake",
                lastJobStartTime: last.map { Self.iso8601($0.start) },
                lastJobStatus: last.map { $0.finish > now ? "running" : "success" },
                nextScheduledRun: nil
            )
        }
    }

    private static func statusEntry(_ job: Job, at now: Double) -> JobEntry {
        let running = job.finish > now
        return JobEntry(
            jobStatus: running ? "running" : "success",
            syncStartTime: iso8601(job.start),
            syncFinishTime: running ? nil : iso8601(job.finish),
            lastTimestampSynced: running ? nil : iso8601(job.start),
            rowsSynced: running ? 0 : job.rows,
            rowsFailedWithErrors: 0
        )
    }

    private static func bearerToken(_ header: String?) -> String? {
        guard let header else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmingCharacters(in: .whitespaces)
    }

    /// Made once rather than per status answer.
    private static let iso8601Style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    static func iso8601(_ epochSeconds: Double) -> String {
        iso8601Style.format(Date(timeIntervalSince1970: epochSeconds))
    }

    static func encode(_ value: some Encodable) -> Data {
        (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
    }
}

extension CDIReply {
    static func message(_ status: Int, _ message: String) -> CDIReply {
        CDIReply(status: status, message: message, body: Workspace.encode(["message": message]), headers: [])
    }
}

/// Opaque page cursors; they encode an offset into the newest-first list.
enum Cursor {
    static func make(_ offset: Int) -> String {
        Data("offset:\(offset)".utf8).base64EncodedString()
    }

    static func offset(_ cursor: String) -> Int? {
        guard let data = Data(base64Encoded: cursor), let text = String(data: data, encoding: .utf8),
            text.hasPrefix("offset:")
        else { return nil }
        return Int(text.dropFirst("offset:".count))
    }
}

/// Admits at most `limit.count` requests within any window of `limit.window`.
struct SlidingWindow {
    let limit: RateLimit
    /// Admission times in epoch seconds, oldest first.
    private var admitted: [Double] = []

    init(_ limit: RateLimit) { self.limit = limit }

    mutating func admit(at now: Double) -> Bool {
        expire(at: now)
        guard admitted.count < limit.count else { return false }
        admitted.append(now)
        return true
    }

    /// The values of the `X-RateLimit-*` headers. Reset is when the oldest admission leaves the window.
    mutating func state(at now: Double) -> (limit: Int, remaining: Int, reset: Int64) {
        expire(at: now)
        let reset = (admitted.first.map { $0 + limit.window.seconds } ?? now).rounded(.up)
        return (limit.count, max(0, limit.count - admitted.count), Int64(saturating: reset))
    }

    private mutating func expire(at now: Double) {
        let cutoff = now - limit.window.seconds
        admitted.removeAll { $0 <= cutoff }
    }
}

private struct PageBody<Entry: Encodable>: Encodable {
    var results: [Entry]
    var message: String
}

/// Encodes nil fields as `null`, as Braze does.
private struct JobEntry: Encodable {
    var jobStatus: String
    var syncStartTime: String?
    var syncFinishTime: String?
    var lastTimestampSynced: String?
    var rowsSynced: Int?
    var rowsFailedWithErrors: Int?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: SnakeKey.self)
        try c.encode(jobStatus, forKey: "job_status")
        try c.encode(syncStartTime, forKey: "sync_start_time")
        try c.encode(syncFinishTime, forKey: "sync_finish_time")
        try c.encode(lastTimestampSynced, forKey: "last_timestamp_synced")
        try c.encode(rowsSynced, forKey: "rows_synced")
        try c.encode(rowsFailedWithErrors, forKey: "rows_failed_with_errors")
    }
}

private struct IntegrationEntry: Encodable {
    var integrationID: String
    var appGroupID: String
    var integrationName: String
    var integrationType: String
    var integrationStatus: String
    var contactEmails: String
    var lastUpdatedAt: String
    var warehouseType: String
    var lastJobStartTime: String?
    var lastJobStatus: String?
    var nextScheduledRun: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: SnakeKey.self)
        try c.encode(integrationID, forKey: "integration_id")
        try c.encode(appGroupID, forKey: "app_group_id")
        try c.encode(integrationName, forKey: "integration_name")
        try c.encode(integrationType, forKey: "integration_type")
        try c.encode(integrationStatus, forKey: "integration_status")
        try c.encode(contactEmails, forKey: "contact_emails")
        try c.encode(lastUpdatedAt, forKey: "last_updated_at")
        try c.encode(warehouseType, forKey: "warehouse_type")
        try c.encode(lastJobStartTime, forKey: "last_job_start_time")
        try c.encode(lastJobStatus, forKey: "last_job_status")
        try c.encode(nextScheduledRun, forKey: "next_scheduled_run")
    }
}

private struct SnakeKey: CodingKey, ExpressibleByStringLiteral {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringLiteral value: String) { stringValue = value }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// A small seedable generator, so `SimulatorConfig.seed` makes runs reproducible.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func duration(in range: ClosedRange<Duration>) -> Duration {
        .nanoseconds(Int64.random(in: range.lowerBound.nanoseconds...range.upperBound.nanoseconds, using: &self))
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
