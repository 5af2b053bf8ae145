import SyncBridgeCore

/// How a `BrazeSimulator` behaves: its workspace, its limits and the faults it injects.
public struct SimulatorConfig: Sendable {
    /// The bearer token the simulator accepts; anything else gets 401.
    public var apiKey: String
    /// Keys that authenticate but lack the CDI permission; they get 403.
    public var forbiddenKeys: Set<String> = []
    /// The workspace's integration IDs, matched case-insensitively. Other valid UUIDs get 404, anything else 400.
    public var integrations: Set<String>
    /// Each accepted trigger starts a job that runs for a random duration in this range.
    public var syncDuration: ClosedRange<Duration>
    /// Braze allows 20 triggers per minute per workspace.
    public var triggerRateLimit = RateLimit.brazeTriggers
    public var statusRateLimit = RateLimit.brazeStatuses
    public var listRateLimit = RateLimit(count: 50, window: .seconds(60))
    /// Results per page of the status and list endpoints.
    public var pageSize = 10
    /// Chance that an authenticated, in-limit request gets 500.
    public var serverErrorProbability = 0.0
    /// Delay added before answering each CDI request.
    public var addedLatency: ClosedRange<Duration>?
    /// Chance that a CDI request's connection is closed without any response.
    public var dropConnectionProbability = 0.0
    /// Header values sent verbatim in place of the computed `X-RateLimit-*` ones (keyed by
    /// header name), to test clients against a misbehaving proxy: `["X-RateLimit-Reset": "inf"]`.
    public var rateLimitHeaderOverrides: [String: String] = [:]
    /// Makes every random choice reproducible.
    public var seed: UInt64?

    public init(
        apiKey: String,
        integrations: Set<String>,
        syncDuration: ClosedRange<Duration> = .seconds(1)...(.seconds(5))
    ) {
        self.apiKey = apiKey
        self.integrations = integrations
        self.syncDuration = syncDuration
    }
}
