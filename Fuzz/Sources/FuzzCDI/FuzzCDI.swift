@testable import BrazeCDI
import Foundation
import FuzzSupport
@testable import SyncBridge
import SyncBridgeCore

/// Braze CDI responses as a proxy or a broken server might send them. An input is an HTTP
/// response without the version: the status on the first line, `Name: value` header lines
/// (`X-RateLimit-*`, `Link`), an empty line, and the body.
///
/// It is classified the way `CDIClient` classifies a response from libcurl, then mapped to what
/// the coordinator sees (trigger and status results, the rate-limit hint on the service clock).
/// None of it may trap, whatever the numbers, dates or JSON.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCDI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let (head, body) = FuzzInput.headAndBody(FuzzInput.bytes(data, size))
    // libcurl reports the status as a number of at most three digits; allow a fourth for odd proxies.
    let status = Int(String((head.first ?? "").prefix(while: \.isNumber).prefix(4))) ?? 0
    let headers = FuzzInput.headerFields(head.dropFirst())

    // As in `CDIClient.send`: headers, the body's message, the outcome, then the body when accepted.
    let bytes = Data(body)
    let rateLimit = RateLimitHeaders(headers: headers)
    let message = (try? JSONDecoder().decode(MessageBody.self, from: bytes))?.message
    let outcome = CDIOutcome(status: status, message: message, rateLimit: rateLimit)
    var statusResponse = CDIResponse<JobSyncStatusPage>(outcome: outcome, status: status, rateLimit: rateLimit, message: message)
    var listResponse = CDIResponse<IntegrationPage>(outcome: outcome, status: status, rateLimit: rateLimit, message: message)
    if outcome == .accepted {
        if let page = try? JSONDecoder().decode(Page<JobSyncStatus>.self, from: bytes) {
            statusResponse.body = JobSyncStatusPage(results: page.results ?? [], nextCursor: CDIClient.nextCursor(page.cursor, headers))
        }
        if let page = try? JSONDecoder().decode(Page<Integration>.self, from: bytes) {
            listResponse.body = IntegrationPage(results: page.results ?? [], nextCursor: CDIClient.nextCursor(page.cursor, headers))
        }
    }
    switch status {
    case 200..<300: FuzzInput.require(outcome == .accepted, "status \(status) classified as \(outcome)")
    case 429: FuzzInput.require(outcome == .inProgress || outcome == .rateLimited, "429 classified as \(outcome)")
    default: break
    }

    // What the coordinator is told.
    _ = TriggerResult(outcome)
    _ = StatusResult(statusResponse)
    let hint = RateLimitHint(rateLimit, clock: clock)
    _ = hint.resetAt.map { $0 - clock.now() }
    _ = listResponse.body?.results.count
    return 0
}

let clock = ServiceClock()

/// The two body shapes `CDIClient` reads (SPEC §6); its own are private.
struct MessageBody: Decodable {
    var message: String?
}

struct Page<Result: Decodable>: Decodable {
    var results: [Result]?
    var cursor: String?
}
