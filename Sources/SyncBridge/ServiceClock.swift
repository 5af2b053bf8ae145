import Foundation
import SyncBridgeCore

/// Maps the process's monotonic clock onto the coordinator's `Moment`s, and wall-clock
/// epoch seconds (`X-RateLimit-Reset`) onto the same scale.
struct ServiceClock: Sendable {
    private let start = ContinuousClock.now

    func now() -> Moment { Moment(ContinuousClock.now - start) }

    /// Never later than `RateLimitHint.maxResetHorizon` from now: a proxy's wrong unit or clock must not park a target for days.
    func moment(epochSeconds: Int64) -> Moment {
        Moment.fromWallClock(
            epochSeconds: Double(epochSeconds), wallClockNow: Date().timeIntervalSince1970,
            now: now(), horizon: RateLimitHint.maxResetHorizon
        )
    }
}
