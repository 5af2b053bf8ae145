/// A point on the coordinator's clock: time since an arbitrary origin.
///
/// The coordinator never reads a clock itself; the shell maps a monotonic clock
/// onto `Moment`s and tests drive them in virtual time.
public struct Moment: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var sinceOrigin: Duration

    public init(_ sinceOrigin: Duration) { self.sinceOrigin = sinceOrigin }

    public static let origin = Moment(.zero)

    /// `value` seconds after the origin, to the millisecond; clamped (see `Duration.clamped(seconds:)`), never trapping.
    public static func seconds(_ value: Double) -> Moment {
        Moment(.milliseconds(Int64(saturating: Duration.clampedSeconds(value) * 1000)))
    }

    public static func < (lhs: Moment, rhs: Moment) -> Bool { lhs.sinceOrigin < rhs.sinceOrigin }
    public static func + (lhs: Moment, rhs: Duration) -> Moment { Moment(lhs.sinceOrigin + rhs) }
    public static func - (lhs: Moment, rhs: Duration) -> Moment { Moment(lhs.sinceOrigin - rhs) }
    public static func - (lhs: Moment, rhs: Moment) -> Duration { lhs.sinceOrigin - rhs.sinceOrigin }

    public var description: String { "t+\(sinceOrigin.seconds)s" }
}

extension Duration {
    /// The duration in fractional seconds.
    public var seconds: Double {
        let (s, attos) = components
        return Double(s) + Double(attos) / 1e18
    }

    /// `value` seconds, to the nanosecond; clamped to ±`saturationLimit` (nan is zero), never trapping.
    public static func seconds(fractional value: Double) -> Duration { .clamped(seconds: value) }

    public func scaled(by factor: Double) -> Duration { .seconds(fractional: seconds * factor) }
}
