import BrazeCDI
import BrazeSimulator
import Foundation
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("CDIClient against the simulator")
struct CDIClientTests {
    @Test("accepted: 202 on trigger with rate-limit headers")
    func accepted() async throws {
        try await withSimulator(config()) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            #expect(!client.usesTLS)
            let response = await client.triggerSync(integrationID: integrationA)
            #expect(response.outcome == .accepted)
            #expect(response.status == 202)
            #expect(response.message == "success")
            #expect(response.rateLimit.limit == 20)
            #expect(response.rateLimit.remaining == 19)
        }
    }

    @Test("G2: a second trigger while the job runs is inProgress")
    func inProgress() async throws {
        try await withSimulator(config()) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            #expect(await client.triggerSync(integrationID: integrationA).outcome == .accepted)
            let second = await client.triggerSync(integrationID: integrationA)
            #expect(second.outcome == .inProgress)
            #expect(second.status == 429)
            // Another integration is unaffected.
            #expect(await client.triggerSync(integrationID: integrationB).outcome == .accepted)
        }
    }

    @Test("G4: exceeding the trigger limit is rateLimited with Remaining 0 and a future Reset")
    func rateLimited() async throws {
        var config = config()
        config.triggerRateLimit = .init(count: 2, window: .seconds(10))
        try await withSimulator(config) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            #expect(await client.triggerSync(integrationID: integrationA).outcome == .accepted)
            #expect(await client.triggerSync(integrationID: integrationB).outcome == .accepted)
            let third = await client.triggerSync(integrationID: integrationC)
            #expect(third.outcome == .rateLimited)
            #expect(third.status == 429)
            #expect(third.rateLimit.limit == 2)
            #expect(third.rateLimit.remaining == 0)
            let now = Int64(Date().timeIntervalSince1970)
            let reset = try #require(third.rateLimit.reset)
            #expect(reset > now && reset <= now + 11)
            // The status endpoint has its own budget.
            #expect(await client.jobSyncStatus(integrationID: integrationA).outcome == .accepted)
        }
    }

    @Test("G5: a malformed integration ID is invalidID (400)")
    func invalidID() async throws {
        try await withSimulator(config()) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            let response = await client.triggerSync(integrationID: "not-a-uuid")
            #expect(response.outcome == .invalidID)
            #expect(response.status == 400)
            #expect(response.message == "Invalid integration ID")
        }
    }

    @Test("G5: an unknown integration is notFound (404)")
    func notFound() async throws {
        try await withSimulator(config()) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            let response = await client.triggerSync(integrationID: UUID().uuidString.lowercased())
            #expect(response.outcome == .notFound)
            #expect(response.status == 404)
            #expect(response.message == "Integration not found")
        }
    }

    @Test("G5: a wrong key is unauthorized (401)")
    func unauthorized() async throws {
        try await withSimulator(config()) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: "wrong-key")
            let response = await client.triggerSync(integrationID: integrationA)
            #expect(response.outcome == .unauthorized)
            #expect(response.status == 401)
        }
    }

    @Test("G5: a key without the permission is forbidden (403)")
    func forbidden() async throws {
        var config = config()
        config.forbiddenKeys = ["read-only-key"]
        try await withSimulator(config) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: "read-only-key")
            let response = await client.triggerSync(integrationID: integrationA)
            #expect(response.outcome == .forbidden)
            #expect(response.status == 403)
        }
    }

    @Test("G6: an injected 500 is serverError")
    func serverError() async throws {
        var config = config()
        config.serverErrorProbability = 1
        try await withSimulator(config) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            #expect(await client.triggerSync(integrationID: integrationA).outcome == .serverError(status: 500))
            #expect(await client.jobSyncStatus(integrationID: integrationA).outcome == .serverError(status: 500))
        }
    }

    @Test("G6: a refused connection is networkError")
    func connectionRefused() async throws {
        // Port 1 on loopback has no listener in any sane test environment.
        let client = try CDIClient(endpoint: "http://127.0.0.1:1", apiKey: apiKey)
        let response = await client.triggerSync(integrationID: integrationA)
        guard case .networkError(let message) = response.outcome else {
            Issue.record("expected networkError, got \(response.outcome)")
            return
        }
        #expect(!message.isEmpty)
        #expect(response.status == 0)
    }

    @Test("G6: latency beyond the client timeout is networkError")
    func timeout() async throws {
        var config = config()
        config.addedLatency = .seconds(3)...(.seconds(3))
        try await withSimulator(config) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey, timeout: .milliseconds(300))
            let started = ContinuousClock.now
            let response = await client.triggerSync(integrationID: integrationA)
            guard case .networkError(let message) = response.outcome else {
                Issue.record("expected networkError, got \(response.outcome)")
                return
            }
            #expect(message.lowercased().contains("timeout") || message.lowercased().contains("timed out"))
            #expect(ContinuousClock.now - started < .seconds(2))
        }
    }

    @Test("cancelling the calling task ends the transfer promptly")
    func cancellation() async throws {
        var config = config()
        config.addedLatency = .seconds(5)...(.seconds(5))
        try await withSimulator(config) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            let started = ContinuousClock.now
            let request = Task { await client.triggerSync(integrationID: integrationA) }
            try await Task.sleep(for: .milliseconds(100))
            request.cancel()
            let response = await request.value
            #expect(response.outcome == .networkError("request cancelled"))
            #expect(ContinuousClock.now - started < .seconds(3))
        }
    }

    @Test("integration IDs match case-insensitively")
    func uppercaseID() async throws {
        try await withSimulator(config()) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            #expect(await client.triggerSync(integrationID: integrationA.uppercased()).outcome == .accepted)
            #expect(await client.triggerSync(integrationID: integrationA).outcome == .inProgress)
        }
    }

    @Test("G6: a dropped connection is networkError and logged with status 0")
    func droppedConnection() async throws {
        var config = config()
        config.dropConnectionProbability = 1
        try await withSimulator(config) { simulator, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            let response = await client.triggerSync(integrationID: integrationA)
            guard case .networkError = response.outcome else {
                Issue.record("expected networkError, got \(response.outcome)")
                return
            }
            let log = await simulator.requests()
            #expect(log.first?.status == 0)
            #expect(log.first?.kind == .trigger)
        }
    }

    @Test("G2: job_sync_status shows running, then success once the job ends")
    func jobLifecycle() async throws {
        try await withSimulator(config(syncDuration: .milliseconds(200)...(.milliseconds(200)))) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            #expect(await client.triggerSync(integrationID: integrationA).outcome == .accepted)

            let running = await client.jobSyncStatus(integrationID: integrationA)
            #expect(running.outcome == .accepted)
            #expect(running.status == 200)
            let job = try #require(running.body?.results.first)
            #expect(job.jobStatus == "running")
            #expect(job.isRunning)
            let start = try #require(job.syncStartTime)
            #expect((try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(start)) != nil, "not ISO-8601: \(start)")
            #expect(job.syncFinishTime == nil)

            let finished = await eventually {
                await client.jobSyncStatus(integrationID: integrationA).body?.results.first?.jobStatus == "success"
            }
            #expect(finished)
            let done = try #require(await client.jobSyncStatus(integrationID: integrationA).body?.results.first)
            #expect(done.syncFinishTime != nil)
            #expect(done.rowsSynced != nil)
            #expect(await client.triggerSync(integrationID: integrationA).outcome == .accepted)
        }
    }

    @Test("status and list results paginate 10 per page via the Link cursor")
    func pagination() async throws {
        let ids = (1...12).map { String(format: "00000000-0000-4000-8000-%012d", $0) }
        var config = config(integrations: Set(ids), syncDuration: .milliseconds(1)...(.milliseconds(1)))
        config.triggerRateLimit = .init(count: 1000, window: .seconds(60))
        config.statusRateLimit = .init(count: 1000, window: .seconds(60))
        try await withSimulator(config) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            for _ in 1...12 {
                let accepted = await eventually {
                    await client.triggerSync(integrationID: ids[0]).outcome == .accepted
                }
                #expect(accepted)
            }

            let first = try #require(await client.jobSyncStatus(integrationID: ids[0]).body)
            #expect(first.results.count == 10)
            let cursor = try #require(first.nextCursor)
            let second = try #require(await client.jobSyncStatus(integrationID: ids[0], cursor: cursor).body)
            #expect(second.results.count == 2)
            #expect(second.nextCursor == nil)
            // Newest first across pages.
            let starts = (first.results + second.results).compactMap(\.syncStartTime)
            #expect(starts == starts.sorted(by: >))

            let integrations = try #require(await client.listIntegrations().body)
            #expect(integrations.results.count == 10)
            let rest = try #require(await client.listIntegrations(cursor: integrations.nextCursor).body)
            #expect(rest.results.count == 2)
            #expect(rest.nextCursor == nil)
            #expect(Set((integrations.results + rest.results).map(\.id)) == Set(ids))
            #expect(integrations.results.first(where: { $0.id == ids[0] })?.lastJobStatus != nil)
        }
    }

    @Test("the request log records every request, also over HTTP")
    func requestLog() async throws {
        try await withSimulator(config()) { simulator, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            _ = await client.triggerSync(integrationID: integrationA)
            _ = await client.triggerSync(integrationID: integrationA)
            _ = await client.jobSyncStatus(integrationID: integrationA)
            _ = await client.listIntegrations()
            _ = await client.triggerSync(integrationID: "bogus")

            let log = await simulator.requests()
            #expect(log.map(\.kind) == [.trigger, .trigger, .status, .list, .trigger])
            #expect(log.map(\.status) == [202, 429, 200, 200, 400])
            #expect(log[1].message == "Another job is in progress")
            #expect(log[0].integrationID == integrationA)
            #expect(log[0].method == "POST")
            #expect(log[0].path == "/cdi/integrations/\(integrationA)/sync")
            #expect(log[3].integrationID == nil)
            #expect(zip(log, log.dropFirst()).allSatisfy { $0.receivedAt <= $1.receivedAt })

            let (data, _) = try await URLSession.shared.data(from: URL(string: endpoint + "/_sim/requests")!)
            let served = try JSONDecoder().decode([SimRequest].self, from: data)
            #expect(served == log)
        }
    }

    @Test("G10: the API key appears in no description, error or message")
    func apiKeyNeverLeaks() async throws {
        var texts: [String] = []
        func collect(_ value: Any) {
            texts.append(String(describing: value))
            texts.append(String(reflecting: value))
            var dumped = ""
            dump(value, to: &dumped)
            texts.append(dumped)
        }

        var config = config()
        config.addedLatency = .milliseconds(400)...(.milliseconds(400))
        try await withSimulator(config) { _, endpoint in
            let client = try CDIClient(endpoint: endpoint, apiKey: apiKey)
            collect(client)
            collect(await client.triggerSync(integrationID: integrationA))
            collect(await client.jobSyncStatus(integrationID: "bogus"))
            let impatient = try CDIClient(endpoint: endpoint, apiKey: apiKey, timeout: .milliseconds(100))
            collect(await impatient.triggerSync(integrationID: integrationB))
        }
        let refused = try CDIClient(endpoint: "http://127.0.0.1:1", apiKey: apiKey)
        collect(await refused.listIntegrations())
        let wrong = try CDIClient(endpoint: "http://127.0.0.1:1", apiKey: apiKey + "-wrong")
        collect(wrong)
        do {
            _ = try CDIClient(endpoint: "ftp://example.com", apiKey: apiKey)
            Issue.record("expected an invalid endpoint")
        } catch {
            collect(error)
        }
        do {
            _ = try CDIClient(endpoint: "https://rest.iad-01.braze.com", apiKey: "has space " + apiKey)
            Issue.record("expected an invalid key")
        } catch {
            collect(error)
        }

        #expect(texts.count > 20)
        for text in texts {
            #expect(!text.contains(apiKey), "leaked in: \(text)")
        }
    }
}
