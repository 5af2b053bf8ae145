@testable import BrazeCDI
import Testing

@Suite("Curl session")
struct CurlSessionTests {
    @Test("sequential requests reuse one kept-alive connection")
    func keepAlive() async throws {
        try await withSimulator(config()) { _, endpoint in
            let session = CurlSession()
            let request = CurlRequest(
                method: .get, url: endpoint + "/cdi/integrations",
                headers: ["Authorization: Bearer \(apiKey)"], body: nil, timeout: .seconds(5)
            )
            let first = try await session.perform(request).get()
            let second = try await session.perform(request).get()
            #expect(first.status == 200)
            #expect(first.newConnections == 1)
            #expect(second.status == 200)
            #expect(second.newConnections == 0)
        }
    }

    @Test("every POST opens a new connection, so libcurl never silently re-sends a trigger")
    func postsNeverReuse() async throws {
        try await withSimulator(config()) { _, endpoint in
            let session = CurlSession()
            let request = CurlRequest(
                method: .post, url: endpoint + "/cdi/integrations/\(integrationA)/sync",
                headers: ["Authorization: Bearer \(apiKey)"], body: "", timeout: .seconds(5)
            )
            let first = try await session.perform(request).get()
            let second = try await session.perform(request).get()
            #expect(first.status == 202)
            #expect(second.status == 429)
            #expect(first.newConnections == 1)
            #expect(second.newConnections == 1)
        }
    }
}
