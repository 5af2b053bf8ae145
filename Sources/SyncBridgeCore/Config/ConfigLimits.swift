/// The largest values a config file may give. Anything beyond them is a typo (or a hostile
/// file), and arithmetic on it could overflow later, so loading refuses it with the limit.
public enum ConfigLimits {
    /// Any duration: timeouts, coalescing, backoff, rate-limit windows.
    public static let maxDuration: Duration = .seconds(30 * 24 * 3600)
    /// Requests per window of a rate limit; Braze's own limits are in the hundreds per minute.
    public static let maxRateCount = 1_000_000
    /// `kafka.max_uncommitted`: 100x the default, which already allows about 150 MB of pending state.
    public static let maxUncommitted = 100_000_000
    /// Byte sizes such as `http.max_body`: 1 GB, librdkafka's own ceiling for `message.max.bytes`.
    public static let maxByteSize = 1_000_000_000

    /// `maxDuration` for messages: "720h (30 days)".
    static var maxDurationText: String { "\(maxDuration.configText) (\(maxDuration.components.seconds / 86_400) days)" }
}
