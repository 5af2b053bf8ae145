import Foundation

extension Duration {
    /// Parses `250ms`, `10s`, `5m`, `1h` (also `1.5s`); returns nil for anything else.
    /// Huge values clamp to `saturationLimit` (about 100 years) instead of trapping.
    public init?(configText text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count)
            guard let value = Double(number), value >= 0,
                number.allSatisfy({ $0.isNumber || $0 == "." })
            else { continue }
            self = .seconds(fractional: value * scale)
            return
        }
        return nil
    }

    /// `10s`, `2m`, `250ms`: the shortest exact spelling, for messages and `rules test`.
    public var configText: String {
        let ms = Int64(saturating: seconds * 1000)
        if ms % 3_600_000 == 0, ms > 0 { return "\(ms / 3_600_000)h" }
        if ms % 60_000 == 0, ms > 0 { return "\(ms / 60_000)m" }
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        return "\(ms)ms"
    }
}

/// `20/1m`: at most `count` requests in any window of `window`.
public struct RateLimit: Equatable, Sendable, CustomStringConvertible {
    public var count: Int
    public var window: Duration

    /// Braze's documented limits for one workspace: `POST /cdi/integrations/{id}/sync` and
    /// `GET /cdi/integrations/{id}/job_sync_status`.
    public static let brazeTriggers = RateLimit(count: 20, window: .seconds(60))
    public static let brazeStatuses = RateLimit(count: 100, window: .seconds(60))

    public init(count: Int, window: Duration) {
        self.count = count
        self.window = window
    }

    public init?(configText text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        // Saturates rather than failing on too many digits, so the caller can name the limit.
        guard parts.count == 2, let count = Int(saturatingDecimal: parts[0].trimmingCharacters(in: .whitespaces)), count > 0 else { return nil }
        let windowText = String(parts[1])
        // `20/min`-style shorthands are common in docs; accept a bare unit as "1 of it".
        let window = Duration(configText: windowText) ?? Duration(configText: "1" + windowText)
        guard let window, window > .zero else { return nil }
        self.init(count: count, window: window)
    }

    public var description: String { "\(count)/\(window.configText)" }
}
