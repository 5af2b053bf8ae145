import Foundation
import SyncBridgeCore

/// Maps the process's monotonic clock onto the coordinator's `Moment`s, and wall-clock
/// epoch seconds (`X-RateLimit-Reset`) onto the same scale.
struct ServiceClock: Sendable {
    private let start = ContinuousClock.now

    func now() -> Moment { Moment(ContinuousClock.now - start) }

    func moment(epochSeconds: Int64) -> Moment {
        now() + .seconds(fractional: Double(epochSeconds) - Date().timeIntervalSince1970)
    }
}
