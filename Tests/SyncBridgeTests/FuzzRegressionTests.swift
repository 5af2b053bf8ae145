import BrazeCDI
import Foundation
import Testing
@testable import SyncBridge
import SyncBridgeCore

/// Inputs the fuzz targets (Fuzz/) found to crash the service, reduced to what triggers the crash.
@Suite struct FuzzRegressionTests {
    /// FuzzCDI: a job status whose time has 35 or more fractional-second digits made
    /// `ISO8601DateFormatter` (ICU) divide by zero: SIGFPE, from one Braze response body.
    @Test func statusTimeWithAVeryLongFractionOfASecond() {
        let finish = "2024-05-01T10:04:30." + String(repeating: "1", count: 40) + "Z"
        let page = JobSyncStatusPage(results: [JobSyncStatus(jobStatus: "success", syncStartTime: "2024-05-01T10:00:00Z", syncFinishTime: finish)])
        let result = StatusResult(CDIResponse(outcome: .accepted, status: 200, body: page))
        // Either reading of the time is fine (refused, or about 270.11 s); crashing is not.
        guard case .finished(let duration) = result else {
            Issue.record("a finished job read as \(result)")
            return
        }
        if let duration { #expect(abs(duration.seconds - 270.111) < 0.01, "\(duration)") }
    }

    /// FuzzCDI: ICU also reads non-ASCII digits (here U+0661, ARABIC-INDIC DIGIT ONE) in the
    /// fraction, so a fraction that starts with one escapes a cut that counts only ASCII digits,
    /// and its 40 ASCII digits after it still made ICU divide by zero. 63 bytes in all.
    @Test func statusTimeWithANonASCIIDigitBeforeALongFraction() {
        let finish = "2024-05-01T10:04:30.\u{0661}" + String(repeating: "1", count: 40) + "Z"
        let page = JobSyncStatusPage(results: [JobSyncStatus(jobStatus: "success", syncStartTime: "2024-05-01T10:00:00Z", syncFinishTime: finish)])
        let result = StatusResult(CDIResponse(outcome: .accepted, status: 200, body: page))
        guard case .finished(let duration) = result else {
            Issue.record("a finished job read as \(result)")
            return
        }
        if let duration { #expect(abs(duration.seconds - 270.1) < 1, "\(duration)") }
    }
}
