@testable import BrazeCDI
import Foundation
import Testing

@Suite("Response classification")
struct ClassificationTests {
    @Test("the two 429s are told apart by message, then by Remaining")
    func tooManyRequests() {
        let exhausted = RateLimitHeaders(limit: 20, remaining: 0, reset: 1)
        let spare = RateLimitHeaders(limit: 20, remaining: 5, reset: 1)
        #expect(CDIOutcome(status: 429, message: "Another job is in progress", rateLimit: spare) == .inProgress)
        #expect(CDIOutcome(status: 429, message: "another JOB IS IN PROGRESS", rateLimit: exhausted) == .inProgress)
        #expect(CDIOutcome(status: 429, message: "API rate limit reached", rateLimit: spare) == .rateLimited)
        #expect(CDIOutcome(status: 429, message: nil, rateLimit: exhausted) == .rateLimited)
        #expect(CDIOutcome(status: 429, message: nil, rateLimit: spare) == .inProgress)
        #expect(CDIOutcome(status: 429, message: nil, rateLimit: .init()) == .rateLimited)
    }

    @Test("statuses map to outcomes")
    func statuses() {
        let none = RateLimitHeaders()
        #expect(CDIOutcome(status: 202, message: nil, rateLimit: none) == .accepted)
        #expect(CDIOutcome(status: 200, message: nil, rateLimit: none) == .accepted)
        #expect(CDIOutcome(status: 400, message: nil, rateLimit: none) == .invalidID)
        #expect(CDIOutcome(status: 401, message: nil, rateLimit: none) == .unauthorized)
        #expect(CDIOutcome(status: 403, message: nil, rateLimit: none) == .forbidden)
        #expect(CDIOutcome(status: 404, message: nil, rateLimit: none) == .notFound)
        #expect(CDIOutcome(status: 503, message: nil, rateLimit: none) == .serverError(status: 503))
        #expect(CDIOutcome(status: 418, message: nil, rateLimit: none) == .serverError(status: 418))
    }

    @Test("G4: rate-limit header names are case-insensitive")
    func headerCase() {
        let headers = RateLimitHeaders(headers: [
            ("x-ratelimit-limit", "20"), ("X-RATELIMIT-REMAINING", "3"), ("X-RateLimit-Reset", "1700000000"),
        ])
        #expect(headers == RateLimitHeaders(limit: 20, remaining: 3, reset: 1_700_000_000))
    }

    @Test("a hostile X-RateLimit-Reset never traps and is bounded; milliseconds become seconds")
    func hostileReset() {
        func reset(_ value: String) -> Int64? { RateLimitHeaders(headers: [("X-RateLimit-Reset", value)]).reset }
        // Each of inf, nan and 1e300 used to trap in Int64(Double).
        #expect(reset("inf") == nil)
        #expect(reset("-inf") == nil)
        #expect(reset("Infinity") == nil)
        #expect(reset("nan") == nil)
        #expect(reset("1e300") == nil)
        #expect(reset("-5") == nil)
        #expect(reset("garbage") == nil)
        #expect(reset("") == nil)
        #expect(reset(String(repeating: "9", count: 5000)) == nil)
        #expect(reset("1764424800000") == 1_764_424_800)
        #expect(reset("1764424800123") == 1_764_424_801)
        #expect(reset("1764424800") == 1_764_424_800)
        #expect(reset(" 1764424800.2 ") == 1_764_424_801)
        #expect(reset("99999999999999999999") == nil)
        for value in ["inf", "nan", "1e300", "-5", "garbage", "1764424800000", "9223372036854775807", "1e14", "99999999999.9"] {
            if let seconds = reset(value) { #expect(seconds >= 0 && Double(seconds) <= RateLimitHeaders.maxEpochSeconds, "\(value)") }
        }
    }

    @Test("X-RateLimit-Remaining and Limit are clamped to 0...maxCount")
    func hostileCounts() {
        func parsed(_ value: String) -> RateLimitHeaders {
            RateLimitHeaders(headers: [("X-RateLimit-Limit", value), ("X-RateLimit-Remaining", value)])
        }
        #expect(parsed("99999999999999999999") == RateLimitHeaders(limit: RateLimitHeaders.maxCount, remaining: RateLimitHeaders.maxCount))
        #expect(parsed("-9223372036854775808") == RateLimitHeaders(limit: 0, remaining: 0))
        #expect(parsed("-5") == RateLimitHeaders(limit: 0, remaining: 0))
        #expect(parsed("7.9") == RateLimitHeaders(limit: 7, remaining: 7))
        #expect(parsed("nan") == RateLimitHeaders())
        #expect(parsed("inf") == RateLimitHeaders())
        #expect(parsed("lots") == RateLimitHeaders())
        // A negative Remaining means nothing is left: a bare 429 is then the rate limit.
        #expect(CDIOutcome(status: 429, message: nil, rateLimit: parsed("-5")) == .rateLimited)
        #expect(CDIOutcome(status: 429, message: nil, rateLimit: parsed("99999999999999999999")) == .inProgress)
    }

    @Test("odd row counts in a status body never make the page unreadable")
    func hostileRowCounts() throws {
        func decode(_ rows: String) throws -> JobSyncStatus {
            let json = #"{"job_status":"success","rows_synced":\#(rows),"rows_failed_with_errors":\#(rows)}"#
            return try JSONDecoder().decode(JobSyncStatus.self, from: Data(json.utf8))
        }
        #expect(try decode("12").rowsSynced == 12)
        #expect(try decode("12.7").rowsSynced == 12)
        #expect(try decode("-3").rowsSynced == 0)
        #expect(try decode("1e300").rowsSynced == 1_000_000_000_000_000)
        #expect(try decode("99999999999999999999").rowsSynced == 1_000_000_000_000_000)
        #expect(try decode("\"many\"").rowsSynced == nil)
        #expect(try decode("null").rowsFailedWithErrors == nil)
        #expect(try decode("1e300").jobStatus == "success")
    }

    @Test("the next cursor comes from the body or the Link header's rel=next")
    func cursor() {
        let link =
            "<https://rest.iad-01.braze.com/cdi/integrations?cursor=abc%2B1>; rel=\"prev\", "
            + "<https://rest.iad-01.braze.com/cdi/integrations?cursor=xyz%3D>; rel=\"next\""
        #expect(CDIClient.nextCursor(nil, [("link", link)]) == "xyz=")
        #expect(CDIClient.nextCursor("fromBody", [("Link", link)]) == "fromBody")
        #expect(CDIClient.nextCursor(nil, []) == nil)
    }

    @Test("path and query components are percent-encoded")
    func escaping() {
        #expect(CDIClient.escaped("a/b c+d=") == "a%2Fb%20c%2Bd%3D")
    }
}

@Suite("CDIClient configuration")
struct ClientConfigurationTests {
    @Test("endpoints must be http(s) URLs with a host")
    func endpoints() throws {
        let braze = try CDIClient(endpoint: "https://rest.iad-03.braze.com/", apiKey: "key")
        #expect(braze.endpoint == "https://rest.iad-03.braze.com")
        #expect(braze.usesTLS)
        #expect(throws: CDIClientError.invalidEndpoint) { try CDIClient(endpoint: "rest.iad-03.braze.com", apiKey: "key") }
        #expect(throws: CDIClientError.invalidEndpoint) { try CDIClient(endpoint: "ftp://example.com", apiKey: "key") }
        #expect(throws: CDIClientError.invalidEndpoint) { try CDIClient(endpoint: "https://example.com?x=1", apiKey: "key") }
    }

    @Test("keys that could break the header are refused")
    func keys() {
        #expect(throws: CDIClientError.invalidAPIKey) { try CDIClient(endpoint: "https://example.com", apiKey: "") }
        #expect(throws: CDIClientError.invalidAPIKey) { try CDIClient(endpoint: "https://example.com", apiKey: "a\r\nX-Evil: 1") }
        #expect(throws: CDIClientError.invalidTimeout) {
            try CDIClient(endpoint: "https://example.com", apiKey: "key", timeout: .zero)
        }
    }
}
