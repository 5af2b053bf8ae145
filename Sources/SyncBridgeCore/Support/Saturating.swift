// Conversions for numbers that come from outside: headers, bodies, config files, flags.
// Swift's `Int64(someDouble)` traps on inf, nan and anything out of range, and `a * b`
// traps on overflow; a crash here would restart into the same input. These clamp instead.

extension Int64 {
    /// `value` rounded to the nearest whole number and clamped to `Int64`'s range; nan is 0.
    public init(saturating value: Double) {
        guard !value.isNaN else {
            self = 0
            return
        }
        let rounded = value.rounded()
        // 2^63 is exactly representable; Int64.max is not, so compare against the power of two.
        if rounded >= 9_223_372_036_854_775_808.0 {
            self = .max
        } else if rounded < -9_223_372_036_854_775_808.0 {
            self = .min
        } else {
            self = Int64(rounded)
        }
    }
}

extension Int {
    /// `value` rounded to the nearest whole number and clamped to `Int`'s range; nan is 0.
    public init(saturating value: Double) {
        self = Int(clamping: Int64(saturating: value))
    }

    /// A decimal integer (ASCII digits with an optional leading `+` or `-`), clamped to `Int`'s
    /// range instead of failing when it has too many digits. Nil for anything else, including "".
    public init?(saturatingDecimal text: some StringProtocol) {
        var digits = Substring(text)
        var negative = false
        if let sign = digits.first, sign == "-" || sign == "+" {
            negative = sign == "-"
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        var value = 0
        for byte in digits.utf8 {
            let digit = Int(byte - UInt8(ascii: "0"))
            let (shifted, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (next, overflow2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if overflow1 || overflow2 {
                self = negative ? .min : .max
                return
            }
            value = next
        }
        self = value
    }

    /// `self * factor`, or nil when the product does not fit.
    public func multipliedOrNil(by factor: Int) -> Int? {
        let (product, overflow) = multipliedReportingOverflow(by: factor)
        return overflow ? nil : product
    }
}

extension Duration {
    /// The longest span an outside number can become: about 100 years. Far beyond any real
    /// timeout or reset, yet small enough that adding two of them to a `Moment` cannot overflow.
    public static let saturationLimit: Duration = .seconds(100 * 365 * 24 * 3600)

    /// `value` seconds, clamped to ±`saturationLimit`, with nan as zero. Never traps.
    public static func clamped(seconds value: Double) -> Duration {
        .nanoseconds(Int64(saturating: clampedSeconds(value) * 1e9))
    }

    /// `value` clamped to ±`saturationLimit` in seconds, with nan as zero.
    static func clampedSeconds(_ value: Double) -> Double {
        guard !value.isNaN else { return 0 }
        let limit = Double(saturationLimit.components.seconds)
        return min(max(value, -limit), limit)
    }
}

extension Moment {
    /// Where a wall-clock time in epoch seconds (a server's `X-RateLimit-Reset`, say) falls on
    /// the coordinator's clock, given that the wall clock reads `wallClockNow` at `now`.
    /// Never more than `horizon` ahead, so a skewed clock, a wrong unit or a hostile proxy
    /// cannot park work for longer than that; nan, inf and huge values never trap.
    public static func fromWallClock(epochSeconds: Double, wallClockNow: Double, now: Moment, horizon: Duration) -> Moment {
        let ahead = Duration.clamped(seconds: epochSeconds - wallClockNow)
        return now + min(ahead, horizon)
    }
}
