import BrazeSimulator
import Foundation
import Testing
@testable import SyncBridge
import SyncBridgeCore

/// The service against a Braze (or a proxy in front of it) that sends nonsense rate-limit
/// headers on every answer. Each of these values used to kill the process with SIGILL on the
/// first response, so events were never covered and offsets never committed.
@Suite(.serialized) struct HostileBrazeTests {
    @Test(arguments: ["inf", "nan", "1e300"])
    func hostileResetHeadersStillCoverAndCommitEverything(reset: String) async throws {
        var config = simulatorConfig()
        config.rateLimitHeaderOverrides = ["X-RateLimit-Reset": reset, "X-RateLimit-Remaining": "-99999999999999999999"]
        let stack = try await Stack(simulator: config)
        try stack.startService()
        let tables = ["ORDERS", "USERS", "ITEMS"]
        try await stack.produce((0..<30).map { (topic, event(table: tables[$0 % 3])) })
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 30 }, "reset \(reset): all 30 offsets committed")
        let triggers = await stack.simulator.requests().filter { $0.kind == .trigger }
        #expect(Set(triggers.filter { $0.status == 202 }.compactMap(\.integrationID)) == [integrationOrders, integrationUsers, integrationItems])
        await stack.shutdown()
    }
}
