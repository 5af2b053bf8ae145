import BrazeCDI
import Foundation
import SyncBridgeCore

extension TriggerResult {
    init(_ outcome: CDIOutcome) {
        switch outcome {
        case .accepted: self = .accepted
        case .inProgress: self = .inProgress
        case .rateLimited: self = .rateLimited
        case .invalidID: self = .invalidID
        case .notFound: self = .notFound
        case .unauthorized: self = .unauthorized
        case .forbidden: self = .forbidden
        case .serverError(let status): self = .serverError(status: status)
        case .networkError: self = .networkError
        }
    }
}

extension StatusResult {
    init(_ response: CDIResponse<JobSyncStatusPage>) {
        switch response.outcome {
        case .accepted:
            guard let newest = response.body?.results.first else {
                self = .noJobs
                return
            }
            if newest.isRunning {
                self = .running
            } else {
                let start = newest.syncStartTime.flatMap(parseISO8601)
                let finish = newest.syncFinishTime.flatMap(parseISO8601)
                self = .finished(duration: start.flatMap { start in finish.flatMap { Self.jobDuration(from: start, to: $0) } })
            }
        case .inProgress, .rateLimited: self = .rateLimited
        case .unauthorized: self = .unauthorized
        case .forbidden: self = .forbidden
        case .notFound, .invalidID: self = .notFound
        case .serverError, .networkError: self = .failed
        }
    }

    /// The longest job duration believed from a status body; the coordinator waits about this
    /// long before its first poll of the next job, so a bogus year-long value must not stall it.
    static let maxReportedJobDuration: Duration = .seconds(24 * 3600)

    /// The job's duration from its reported times; nil when they run backwards, clamped when absurd.
    static func jobDuration(from start: Date, to finish: Date) -> Duration? {
        let seconds = finish.timeIntervalSince(start)
        guard seconds.isFinite, seconds >= 0 else { return nil }
        return min(.seconds(fractional: seconds), maxReportedJobDuration)
    }

    var outcomeLabel: String {
        switch self {
        case .running, .finished, .noJobs: return "ok"
        case .rateLimited: return "rate_limited"
        case .unauthorized, .forbidden, .notFound: return "client_error"
        case .failed: return "error"
        }
    }
}

extension RateLimitHint {
    init(_ headers: RateLimitHeaders, clock: ServiceClock) {
        self.init(remaining: headers.remaining, resetAt: headers.reset.map(clock.moment(epochSeconds:)))
    }
}

/// A time from a Braze response body. Only what the formatter can take safely reaches it:
/// ICU divides by zero (SIGFPE) on a fraction of a second with 35 or more digits, so the
/// fraction is cut to milliseconds, and anything longer than a timestamp is refused.
func parseISO8601(_ text: String) -> Date? {
    guard text.utf8.count <= 80 else { return nil }
    let safe = truncatingFractionalSeconds(text, toDigits: 3)
    let fractional = ISO8601DateFormatter()
    fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let date = fractional.date(from: safe) { return date }
    return ISO8601DateFormatter().date(from: safe)
}

/// `2024-05-01T10:04:30.123456789Z` with at most `digits` digits after the seconds' point.
func truncatingFractionalSeconds(_ text: String, toDigits digits: Int) -> String {
    guard let time = text.firstIndex(where: { $0 == "T" || $0 == "t" }),
          let point = text[time...].firstIndex(of: ".")
    else { return text }
    let fraction = text[text.index(after: point)...].prefix(while: { $0.isASCII && $0.isNumber })
    guard fraction.count > digits else { return text }
    return String(text[...point]) + fraction.prefix(digits) + text[fraction.endIndex...]
}
