import BrazeCDI
import Foundation
import Testing
@testable import SyncBridge
import SyncBridgeCore

/// Where outside numbers become `Moment`s and `Duration`s in the service: bounded, never trapping.
@Suite struct ResetMappingTests {
    @Test func resetHintIsNeverMoreThanAnHourAhead() {
        let clock = ServiceClock()
        let wallNow = Int64(Date().timeIntervalSince1970)
        for reset: Int64 in [.max, .min, 0, -5, 1_764_424_800_000, wallNow + 86_400 * 365] {
            let before = clock.now()
            let hint = RateLimitHint(RateLimitHeaders(limit: 20, remaining: 0, reset: reset), clock: clock)
            let after = clock.now()
            #expect(hint.remaining == 0)
            #expect(hint.resetAt != nil && hint.resetAt! <= after + RateLimitHint.maxResetHorizon, "reset \(reset)")
            if reset > wallNow + 7200 { #expect(hint.resetAt! >= before + RateLimitHint.maxResetHorizon, "reset \(reset)") }
        }
        let soon = RateLimitHint(RateLimitHeaders(reset: wallNow + 30), clock: clock)
        #expect(soon.resetAt! > clock.now() + .seconds(25) && soon.resetAt! <= clock.now() + .seconds(31))
    }

    @Test func jobDurationsFromStatusTimesAreSane() throws {
        let start = Date(timeIntervalSince1970: 1_764_424_800)
        #expect(StatusResult.jobDuration(from: start, to: start.addingTimeInterval(42)) == .seconds(42))
        #expect(StatusResult.jobDuration(from: start, to: start.addingTimeInterval(-1)) == nil)
        #expect(StatusResult.jobDuration(from: .distantPast, to: .distantFuture) == StatusResult.maxReportedJobDuration)
        let page = JobSyncStatusPage(results: [
            JobSyncStatus(jobStatus: "success", syncStartTime: "0001-01-01T00:00:00Z", syncFinishTime: "9999-12-31T23:59:59Z")
        ])
        #expect(StatusResult(CDIResponse(outcome: .accepted, status: 200, body: page)) == .finished(duration: .seconds(24 * 3600)))
        // ICU crashed on long fractions (see FuzzRegressionTests); they are read to nanoseconds.
        #expect(parseISO8601("2024-05-01T10:04:30." + String(repeating: "9", count: 5000) + "Z") == nil)
        let long = try #require(parseISO8601("2024-05-01T10:04:30.5" + String(repeating: "1", count: 50) + "+01:00"))
        #expect(abs(long.timeIntervalSince1970 - 1_714_554_270.511_111_111) < 1e-6)
        let backwards = JobSyncStatusPage(results: [
            JobSyncStatus(jobStatus: "success", syncStartTime: "2025-11-29T14:00:10Z", syncFinishTime: "2025-11-29T14:00:00Z")
        ])
        #expect(StatusResult(CDIResponse(outcome: .accepted, status: 200, body: backwards)) == .finished(duration: nil))
    }
}
