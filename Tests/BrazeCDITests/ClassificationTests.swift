@testable import BrazeCDI
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

    @Test("the next cursor comes from the body or the Link header's rel=next")
    func cursor() {
        let link = "<https://rest.iad-01.braze.com/cdi/integrations?cursor=abc%2B1>; rel=\"prev\", "
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
