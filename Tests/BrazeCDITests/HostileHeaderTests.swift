import BrazeCDI
import BrazeSimulator
import Foundation
import Testing

/// A proxy in front of Braze may answer with any `X-RateLimit-*` values. Over real HTTP,
/// every one of these must come back bounded; `inf`, `nan` and `1e300` used to trap.
@Suite("Hostile rate-limit headers over HTTP")
struct HostileHeaderTests {
    static let resets: [(sent: String, expected: Int64?)] = [
        ("inf", nil), ("nan", nil), ("1e300", nil), ("-5", nil), ("garbage", nil),
        ("1764424800000", 1_764_424_800), ("1764424800", 1_764_424_800),
    ]

    @Test("the reset is parsed safely and milliseconds become seconds", arguments: resets)
    func reset(_ sent: String, _ expected: Int64?) async throws {
        var hostile = config()
        hostile.rateLimitHeaderOverrides = ["X-RateLimit-Reset": sent]
        try await withSimulator(hostile) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            let trigger = await client.triggerSync(integrationID: integrationA)
            #expect(trigger.outcome == .accepted)
            #expect(trigger.rateLimit.reset == expected)
            let status = await client.jobSyncStatus(integrationID: integrationA)
            #expect(status.outcome == .accepted)
            #expect(status.rateLimit.reset == expected)
        }
    }

    @Test("huge and negative counts are clamped; a 429 without a message stays classified")
    func counts() async throws {
        var hostile = config()
        hostile.triggerRateLimit = .init(count: 1, window: .seconds(60))
        hostile.rateLimitHeaderOverrides = [
            "X-RateLimit-Limit": "99999999999999999999", "X-RateLimit-Remaining": "-9223372036854775808", "X-RateLimit-Reset": "inf",
        ]
        try await withSimulator(hostile) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            let first = await client.triggerSync(integrationID: integrationA)
            #expect(first.rateLimit == RateLimitHeaders(limit: RateLimitHeaders.maxCount, remaining: 0, reset: nil))
            let limited = await client.triggerSync(integrationID: integrationB)
            #expect(limited.status == 429)
            #expect(limited.outcome == .rateLimited)
            #expect(limited.rateLimit.reset == nil)
        }
    }
}
