import Testing
@testable import SyncBridgeCore

/// Numbers from outside (headers, bodies, config files, flags) clamp instead of trapping.
/// Before these conversions existed, each of the hostile values below killed the process
/// ("Double value cannot be converted to Int64 because it is either infinite or NaN").
@Suite struct NumericSafetyTests {
    static let hostileDoubles: [Double] = [
        .infinity, -.infinity, .nan, 1e300, -1e300, .greatestFiniteMagnitude, 9.3e18, -9.3e18, 1_764_424_800_000,
    ]

    @Test func int64SaturatingClampsEveryDouble() {
        #expect(Int64(saturating: .infinity) == .max)
        #expect(Int64(saturating: -.infinity) == .min)
        #expect(Int64(saturating: .nan) == 0)
        #expect(Int64(saturating: 1e300) == .max)
        #expect(Int64(saturating: -1e300) == .min)
        #expect(Int64(saturating: 9_223_372_036_854_775_808.0) == .max)
        #expect(Int64(saturating: -9_223_372_036_854_775_808.0) == .min)
        #expect(Int64(saturating: 2.5) == 3)
        #expect(Int64(saturating: -2.4) == -2)
        #expect(Int(saturating: .infinity) == .max)
    }

    @Test func saturatingDecimalParsesHugeIntegersWithoutFailing() {
        #expect(Int(saturatingDecimal: "99999999999999999999") == .max)
        #expect(Int(saturatingDecimal: "-99999999999999999999") == .min)
        #expect(Int(saturatingDecimal: "9223372036854775807") == .max)
        #expect(Int(saturatingDecimal: "-9223372036854775808") == .min)
        #expect(Int(saturatingDecimal: "+42") == 42)
        #expect(Int(saturatingDecimal: "007") == 7)
        #expect(Int(saturatingDecimal: "") == nil)
        #expect(Int(saturatingDecimal: "-") == nil)
        #expect(Int(saturatingDecimal: "1e3") == nil)
        #expect(Int(saturatingDecimal: " 1") == nil)
        #expect(Int(saturatingDecimal: "٣") == nil)
        #expect(Int.max.multipliedOrNil(by: 2) == nil)
        #expect(21.multipliedOrNil(by: 2) == 42)
    }

    @Test func durationAndMomentFromAnyDoubleAreBounded() {
        let limit = Duration.saturationLimit
        for value in Self.hostileDoubles {
            let duration = Duration.seconds(fractional: value)
            #expect(duration <= limit && duration >= .zero - limit, "seconds(fractional: \(value))")
            let moment = Moment.seconds(value)
            #expect(moment.sinceOrigin <= limit && moment.sinceOrigin >= .zero - limit, "Moment.seconds(\(value))")
            #expect(Duration.seconds(fractional: 1).scaled(by: value) <= limit)
        }
        #expect(Duration.seconds(fractional: .nan) == .zero)
        #expect(Moment.seconds(.nan) == .origin)
        #expect(Duration.seconds(fractional: .infinity) == limit)
        #expect(Duration.seconds(fractional: 1.5) == .milliseconds(1500))
        #expect(Moment.seconds(2.5) == Moment(.milliseconds(2500)))
        #expect(Duration.seconds(fractional: 1e300).configText == "876000h")
    }

    @Test func wallClockResetIsCappedAtTheHorizonAndNeverTraps() {
        let now = Moment.seconds(1000)
        let wallNow = 1_764_424_000.0
        let horizon = RateLimitHint.maxResetHorizon
        #expect(horizon == .seconds(3600))
        for value in Self.hostileDoubles + [-5, 0, Double(Int64.max)] {
            let reset = Moment.fromWallClock(epochSeconds: value, wallClockNow: wallNow, now: now, horizon: horizon)
            #expect(reset <= now + horizon, "reset \(value)")
        }
        // A reset in epoch milliseconds read as seconds is 56 000 years away: capped, not believed.
        #expect(Moment.fromWallClock(epochSeconds: 1_764_424_800_000, wallClockNow: wallNow, now: now, horizon: horizon) == now + horizon)
        #expect(Moment.fromWallClock(epochSeconds: wallNow + 30, wallClockNow: wallNow, now: now, horizon: horizon) == now + .seconds(30))
        #expect(Moment.fromWallClock(epochSeconds: .nan, wallClockNow: wallNow, now: now, horizon: horizon) == now)
        #expect(Moment.fromWallClock(epochSeconds: -5, wallClockNow: wallNow, now: now, horizon: horizon) < now)
    }

    @Test func hostileResetDelaysTheNextTriggerByAtMostTheHorizon() {
        let wallNow = 1_764_424_000.0
        for value in Self.hostileDoubles + [-5] {
            var c = coordinator()
            _ = c.consume(0, [keyA], at: 0)
            #expect(triggers(c.tick(at: at(10))) == [keyA])
            let now = at(10.1)
            let hint = RateLimitHint(
                remaining: 0,
                resetAt: Moment.fromWallClock(epochSeconds: value, wallClockNow: wallNow, now: now, horizon: RateLimitHint.maxResetHorizon)
            )
            _ = c.triggerCompleted(keyA, result: .rateLimited, rateLimit: hint, at: now)
            let deadline = c.nextDeadline
            #expect(deadline != nil && deadline! <= now + .seconds(3600), "reset \(value): next deadline \(String(describing: deadline))")
            #expect(triggers(c.tick(at: now + .seconds(3600))) == [keyA], "reset \(value)")
        }
    }

    @Test func rateBudgetSurvivesExtremeServerCounts() {
        var budget = RateBudget(limit: RateLimit(count: 10, window: .seconds(60)))
        let now = at(0)
        budget.observe(remaining: .min, resetAt: at(30), now: now)
        budget.consume(now)
        budget.consume(now)
        #expect(budget.availableAt(now) == at(30))
        budget.observe(remaining: .max, resetAt: at(30), now: now)
        budget.consume(now)
        #expect(budget.availableAt(now) == now)
    }

    @Test func durationConfigTextClampsInsteadOfTrapping() {
        #expect(Duration(configText: "99999999999999h") == Duration.saturationLimit)
        #expect(Duration(configText: String(repeating: "9", count: 400) + "s") == Duration.saturationLimit)
        #expect(Duration(configText: "1.5s") == .milliseconds(1500))
        #expect(RateLimit(configText: "99999999999999999999/1m")?.count == .max)
        #expect(RateLimit(configText: "20/99999999999999h")?.window == Duration.saturationLimit)
    }
}
