/// The validated contents of a config file (SPEC §3).
public struct ServiceConfig: Sendable {
    public var kafka: KafkaSettings
    public var targets: [TargetSettings]
    public var coalesce: CoalescePolicy
    public var retry: RetryPolicy
    public var shutdownTimeout: Duration
    public var http: HTTPSettings
    public var rules: RuleSet
    /// The file the rules came from: the config itself, or its `rules_file`.
    public var rulesFile: String
    public var configFile: String

    public func target(named name: String?) -> TargetSettings? {
        guard let name else { return targets.count == 1 ? targets[0] : nil }
        return targets.first { $0.name == name }
    }
}

public struct KafkaSettings: Sendable {
    /// `embedded` starts the in-process development broker.
    public var brokers: String
    public var group: String
    public var topics: [String]
    public var deadLetterTopic: String?
    public var properties: [String: String]
    /// Backpressure bound: above this many uncommitted events the consumer pauses its busiest
    /// partitions, and resumes them below 80% of it. The default keeps the pending state well
    /// under 150 MB (see the memory benchmark).
    public var maxUncommitted = KafkaSettings.defaultMaxUncommitted

    public static let defaultMaxUncommitted = 1_000_000

    /// The consumer's `queued.min.messages` unless `properties` sets it. librdkafka 2.0 compares
    /// this "per partition" minimum with the whole consumer queue and stops fetching for a while
    /// once it is reached, so a consumer that processes slower than it fetches ran dry between
    /// fetch bursts: 120k events/s instead of 450k in the throughput benchmark. The prefetched
    /// bytes stay bounded by queued.max.messages.kbytes.
    public static let defaultQueuedMinMessages = 1_000_000

    /// `group.instance.id`: static membership, so a restarted member (a pod keeping its name)
    /// gets its partitions back without a rebalance, within the session timeout.
    public var instanceID: String?

    public var mode = KafkaMode.direct
    /// Partitioned mode's internal topic of request records, keyed by target (`<group>.requests`).
    public var requestsTopic = ""
    /// The compacted topic of each target's scheduling state (`<group>.state`); nil when turned off.
    public var stateTopic: String?

    public var isEmbedded: Bool { brokers == "embedded" }

    /// Stage two's consumer group in partitioned mode.
    public var requestsGroup: String { "\(group).requests" }
}

/// `kafka.mode`: how replicas in one consumer group share the work.
public enum KafkaMode: String, Sendable {
    /// Every member schedules for the events it consumes, with its own budget: one replica.
    case direct
    /// Stage one forwards requests keyed by target; the owner of a target's requests partition
    /// is that workspace's only scheduler, with its whole budget.
    case partitioned
}

public struct TargetSettings: Sendable {
    public var name: String
    public var endpoint: String
    public var apiKeySource: SecretSource
    public var rateLimit: RateLimit
    public var statusRateLimit: RateLimit
    public var timeout: Duration
}

/// Where a secret lives (a target's API key, the ingress HMAC secret); the secret itself is read
/// only when it is used (G10).
public enum SecretSource: Sendable, Equatable, CustomStringConvertible {
    case environment(String)
    case file(String)

    public var description: String {
        switch self {
        case .environment(let name): return "environment variable \(name)"
        case .file(let path): return "file \(path)"
        }
    }
}

public struct RetryPolicy: Equatable, Sendable {
    public var initialBackoff: Duration
    public var maxBackoff: Duration

    public init(initialBackoff: Duration, maxBackoff: Duration) {
        self.initialBackoff = initialBackoff
        self.maxBackoff = maxBackoff
    }

    /// `retry:` when the config leaves it out.
    public static let `default` = RetryPolicy(initialBackoff: .seconds(1), maxBackoff: .seconds(300))

    /// A paused target (401/403) is probed rarely: from 30 s (or `max_backoff` if shorter)
    /// doubling up to `max_backoff`.
    public static func pausing(under retry: RetryPolicy) -> RetryPolicy {
        RetryPolicy(initialBackoff: min(.seconds(30), retry.maxBackoff), maxBackoff: retry.maxBackoff)
    }
}

public struct HTTPSettings: Sendable {
    public var listen: String?
    public var ingressTokens: [String]
    /// Bearer tokens for `/v1/integrations` and the status page; with none, they are open.
    public var adminTokens: [String] = []
    public var ingressHMAC: IngressHMACSettings?
    public var maxBody: Int
    /// How long `POST /v1/events/{topic}` waits for the broker before answering 503.
    public var ingressTimeout: Duration
    /// Open connections at once; one more is answered 503 with Retry-After and closed.
    public var maxConnections = HTTPSettings.defaultMaxConnections
    /// Request-body bytes held at once across all requests (buffered for a signature check or
    /// waiting for the broker); a request that would exceed it is answered 503 with Retry-After.
    public var maxInflightBody = HTTPSettings.defaultMaxInflightBody
    /// A connection with no request under way is closed after this long.
    public var idleTimeout = HTTPSettings.defaultIdleTimeout
    /// A request head must arrive whole within this long of its first byte.
    public var headerTimeout = HTTPSettings.defaultHeaderTimeout
    /// A request body must arrive whole within this long of its head: a total, so a client
    /// trickling one byte a second is cut off too.
    public var readTimeout = HTTPSettings.defaultReadTimeout

    public static let defaultMaxBody = 1 << 20
    /// The largest `max_body` accepted; the ingress producer's `message.max.bytes` is raised to fit it.
    public static let maxBodyCap = 100 << 20
    public static let defaultMaxConnections = 256
    public static let defaultMaxInflightBody = 64 << 20
    public static let defaultIdleTimeout = Duration.seconds(60)
    public static let defaultHeaderTimeout = Duration.seconds(10)
    public static let defaultReadTimeout = Duration.seconds(30)
}

/// Webhook signatures: a hex HMAC-SHA256 of the raw body, sent in `header`.
public struct IngressHMACSettings: Sendable, Equatable {
    /// Where the shared secret lives; it is read when the service starts (G10: never from the config).
    public var secretSource: SecretSource
    public var header: String

    public static let defaultHeader = "X-Signature-256"
}
