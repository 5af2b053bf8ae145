import Foundation
import Testing
@testable import SyncBridge
@testable import SyncBridgeCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `GET /v1/integrations` and `/v1/integrations/{id}` against the embedded broker and the
/// simulator: what they show after real triggers, and who may see it.
@Suite(.serialized) struct OperatorViewTests {
    static let token = "ops-token-0123"

    func get(_ http: HTTPStack, _ path: String, token: String? = OperatorViewTests.token) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: http.base.appendingPathComponent(path), timeoutInterval: 10)
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, data)
    }

    @Test func integrationsShowStatesLastTriggersAndHistoryToAdminsOnly() async throws {
        let http = try await HTTPStack(http: #"{ admin_tokens: ["\#(Self.token)"] }"#)
        http.startService()
        #expect(await http.waitUntilReady())
        try await http.stack.produce([(topic, event(table: "ORDERS")), (topic, event(table: "ORDERS")), (topic, event(table: "USERS"))])
        #expect(await http.triggered(integrationOrders))
        #expect(await http.triggered(integrationUsers))

        #expect(try await get(http, "v1/integrations", token: nil).status == 401)
        #expect(try await get(http, "v1/integrations", token: "wrong").status == 401)
        #expect(try await get(http, "v1/integrations/\(integrationOrders)", token: nil).status == 401)
        #expect(try await get(http, "", token: nil).status == 200, "the page holds no data; its script sends the token")

        // The trigger's answer is recorded when the engine hands it to the coordinator, just after the simulator logs it.
        var document: IntegrationsDocument?
        #expect(
            await http.stack.waitUntil(seconds: 10) {
                guard let (status, body) = try? await get(http, "v1/integrations"), status == 200 else { return false }
                document = try? IntegrationsDocument.decoder.decode(IntegrationsDocument.self, from: body)
                return document?.integrations.filter { $0.lastTrigger?.outcome == "accepted" }.count == 2
            })
        let orders = document?.integrations.first { $0.id == integrationOrders }
        #expect(orders?.target == "braze")
        #expect(orders?.lastTrigger?.events == 2)
        #expect(orders?.rules.contains("orders") == true)
        #expect(orders?.rules.contains("users") == false)
        #expect(orders?.timeline.lanes["events"]?.reduce(0, +) == 2)
        #expect(orders?.timeline.lanes["accepted"]?.reduce(0, +) == 1)
        #expect(["running", "idle"].contains(orders?.state ?? ""))
        #expect(orders?.history == nil)
        let budget = document?.targets.first { $0.name == "braze" }?.triggers
        #expect(budget?.limit == 20)
        #expect((budget?.used ?? 0) >= 2)

        let one = try await get(http, "v1/integrations/\(integrationOrders.uppercased())")
        #expect(one.status == 200)
        let single = try IntegrationsDocument.decoder.decode(IntegrationsDocument.self, from: one.body)
        #expect(single.integrations.map(\.id) == [integrationOrders])
        #expect(single.integrations.first?.history?.contains { $0.kind == "trigger" && $0.outcome == "accepted" } == true)

        let bad = try await get(http, "v1/integrations/not-a-uuid")
        #expect(bad.status == 400)
        #expect(String(decoding: bad.body, as: UTF8.self).contains("not an integration ID"))
        #expect(try await get(http, "v1/integrations/\(integrationItems)").status == 404)
        await http.shutdown()
    }
}
