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

/// A time from a Braze response body (`RFC3339` explains why Foundation's parser is not used).
func parseISO8601(_ text: String) -> Date? {
    RFC3339.epochSeconds(text).map(Date.init(timeIntervalSince1970:))
}
