import ArgumentParser
import BrazeCDI
import Foundation
import SyncBridge
import SyncBridgeCore

/// An integration on a target, and a client for it built as the service would build it.
struct IntegrationOptions: ParsableArguments {
    @Option(help: "The config file (YAML).") var config: String
    @Option(help: "The target's name; optional when there is one target.") var target: String?
    @Argument(help: "The integration ID (a UUID).") var integrationID: String

    func resolve() throws -> (id: String, target: TargetSettings, client: CDIClient, retry: RetryPolicy) {
        guard let id = canonicalIntegrationID(integrationID) else {
            throw UsageFailure(message: "'\(integrationID)' is not a Braze integration ID (a UUID like 3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70)")
        }
        let settings = try loadConfig(config)
        guard let target = settings.target(named: target) else {
            let names = settings.targets.map(\.name).joined(separator: ", ")
            throw UsageFailure(
                message: self.target == nil
                    ? "there are several targets (\(names)); pick one with --target" : "unknown target '\(self.target!)'; targets are: \(names)")
        }
        let key: String
        do {
            key = try SecretReader.apiKey(for: target, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw UsageFailure(message: "\(error)")
        }
        return (id, target, try CDIClient(endpoint: target.endpoint, apiKey: key, timeout: target.timeout), settings.retry)
    }
}

/// Retries transient answers (5xx, network, rate limited) with the service's backoff, honouring reset headers.
func withRetries<Body>(_ policy: RetryPolicy, attempts: Int = 6, _ call: () async -> CDIResponse<Body>) async -> CDIResponse<Body> {
    var random = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
    var response = await call()
    for attempt in 0..<attempts {
        let delay: Duration
        switch response.outcome {
        case .rateLimited:
            let untilReset = response.rateLimit.reset.map { Double($0) - Date().timeIntervalSince1970 } ?? 0
            let resetWait = min(max(untilReset, 0), RateLimitHint.maxResetHorizon.seconds)
            delay = max(.seconds(fractional: resetWait), Backoff(policy: policy).delay(attempt: attempt, using: &random))
        case .serverError, .networkError:
            delay = Backoff(policy: policy).delay(attempt: attempt, using: &random)
        default:
            return response
        }
        FileHandle.standardError.write(Data("\(describe(response.outcome)); retrying in \(String(format: "%.1f", delay.seconds))s\n".utf8))
        try? await Task.sleep(for: delay)
        response = await call()
    }
    return response
}

func describe(_ outcome: CDIOutcome) -> String {
    switch outcome {
    case .accepted: return "accepted"
    case .inProgress: return "another job is in progress (429)"
    case .rateLimited: return "rate limited (429)"
    case .invalidID: return "invalid integration ID (400)"
    case .notFound: return "integration not found (404)"
    case .unauthorized: return "unauthorized (401): check the API key and the endpoint's region"
    case .forbidden: return "forbidden (403): the key lacks the CDI permission"
    case .serverError(let status): return "server error (\(status))"
    case .networkError(let message): return "network error: \(message)"
    }
}

struct Trigger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Trigger one sync now, through the service's client, limits and retry policy.")

    @OptionGroup var options: IntegrationOptions

    func run() async throws {
        let (id, target, client, retry) = try options.resolve()
        let response = await withRetries(retry) { await client.triggerSync(integrationID: id) }
        print("\(target.name)/\(id): \(describe(response.outcome))")
        if let remaining = response.rateLimit.remaining { print("rate limit remaining: \(remaining)") }
        if response.outcome != .accepted { throw RuntimeFailure(message: "sync not started: \(describe(response.outcome))") }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the recent job sync status of an integration.")

    @OptionGroup var options: IntegrationOptions

    func run() async throws {
        let (id, _, client, retry) = try options.resolve()
        let response = await withRetries(retry) { await client.jobSyncStatus(integrationID: id) }
        guard response.outcome == .accepted, let page = response.body else {
            throw RuntimeFailure(message: "status not available: \(describe(response.outcome))")
        }
        if page.results.isEmpty { print("no sync jobs yet") }
        print("STATUS        STARTED                    FINISHED                   ROWS     FAILED")
        for job in page.results {
            print(
                [
                    job.jobStatus.padding(12), (job.syncStartTime ?? "-").padding(26), (job.syncFinishTime ?? "-").padding(26),
                    String(job.rowsSynced ?? 0).padding(8), String(job.rowsFailedWithErrors ?? 0),
                ].joined(separator: " "))
        }
        if page.nextCursor != nil { print("(more jobs on the next page)") }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
