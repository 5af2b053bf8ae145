import BrazeSimulator
import Foundation
import Kafka
import Testing
@testable import SyncBridge
import SyncBridgeCore

/// Braze calls never wait on Kafka (SPEC §9): with every broker down, integrations waiting on
/// running jobs still get their status polls and trailing triggers on time, and commits resume
/// when the brokers return.
@Suite(.serialized) struct BrokerOutageTests {
    @Test func pollsAndTrailingTriggersGoOutWhileEveryBrokerIsDown() async throws {
        try await checkBrazeCallsDuringOutage(
            begin: { try $0.setBrokerDown(1) },
            end: { try $0.setBrokerUp(1) }
        )
    }

    /// A broker that accepts connections but answers after 20 s: every commit blocks the
    /// consumer thread that long, which must not hold back any Braze call.
    @Test func pollsAndTrailingTriggersGoOutWhileTheBrokerAnswersNothing() async throws {
        try await checkBrazeCallsDuringOutage(
            begin: { try $0.setBrokerRoundTrip(1, milliseconds: 20_000) },
            end: { try $0.setBrokerRoundTrip(1, milliseconds: 0) }
        )
    }

    /// ORDERS waits on a running job (status polls, then a trailing trigger); ITEMS coalesces for
    /// 6 s, so its trigger comes due in the middle of the outage, after ORDERS's trailing trigger
    /// has left a commit that cannot complete.
    private func checkBrazeCallsDuringOutage(begin: (EmbeddedKafkaCluster) throws -> Void, end: (EmbeddedKafkaCluster) throws -> Void) async throws {
        let stack = try await Stack(simulator: simulatorConfig(syncDuration: .seconds(2)...(.seconds(2))))
        // A session longer than the outage, so the group keeps its members and the test reads
        // the scheduling, not a rebalance.
        let config = stack.configText(quiet: "200ms", maxDelay: "1s")
            .replacingOccurrences(of: "session.timeout.ms: \"6000\"", with: "session.timeout.ms: \"45000\"")
            .replacingOccurrences(
                of: "sync: [\"\(integrationItems)\"] }", with: "sync: [\"\(integrationItems)\"], coalesce: { quiet: 6s, max_delay: 6s } }")
        try stack.startService(configText: config)
        // A rejoin during the first join can wait out the whole 45 s session (failed in CI with
        // the first burst's commit bounded at 30 s).
        #expect(await stack.waitUntilAssigned(seconds: 60))
        try await stack.produce((0..<10).map { _ in (topic, event(table: "ORDERS")) })
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 10 }, "the first burst is covered and committed")

        // While ORDERS's job runs: more ORDERS events (a trailing trigger is owed) and ITEMS events.
        try await stack.produce((0..<20).map { (topic, event(table: $0 % 2 == 0 ? "ORDERS" : "ITEMS")) })
        #expect(await stack.waitUntil { stack.recorder.consumedCount == 30 })
        let consumed = stack.recorder.consumedEvents.withLock { $0.map(\.at).max() ?? 0 }
        // ITEMS comes due 6 s after its first event (quiet and max_delay are both 6 s); on a loaded
        // machine the burst's consumption can spread over more than half a second.
        let firstItems = stack.recorder.consumedEvents.withLock { events in
            events.filter { $0.keys.contains { $0.integrationID == integrationItems } }.map(\.at).min() ?? 0
        }
        try begin(stack.cluster)
        let down = Date().timeIntervalSince1970

        let allSent = await stack.waitUntil(seconds: 20) {
            await stack.simulator.requests().filter { $0.kind == .trigger && $0.status == 202 }.count == 3
        }
        let up = Date().timeIntervalSince1970
        try end(stack.cluster)
        #expect(allSent, "the trailing and the coalesced trigger were accepted during the outage")

        let log = await stack.simulator.requests()
        let accepted = log.filter { $0.kind == .trigger && $0.status == 202 }
        let orders = accepted.filter { $0.integrationID == integrationOrders }.map(\.receivedAt)
        try #require(orders.count == 2, "ORDERS: first trigger and one trailing trigger")
        // The job lasts 2 s; the trailing trigger follows a status poll, not the broker's return.
        #expect(orders[1] - orders[0] < 8, "ORDERS: trailing trigger \(orders[1] - orders[0]) s after the first")
        #expect(orders[1] > down && orders[1] < up, "ORDERS: trailing trigger sent during the outage")
        let items = try #require(accepted.first { $0.integrationID == integrationItems }?.receivedAt)
        #expect(
            items - firstItems > 5.9 && items - consumed < 9,
            "ITEMS: triggered \(items - firstItems) s after its first event; quiet and max_delay are 6 s")
        #expect(items > down && items < up, "ITEMS: triggered during the outage")
        #expect(log.contains { $0.kind == .status && $0.receivedAt > down && $0.receivedAt < up }, "status polls went out during the outage")
        #expect(!log.contains { $0.status == 429 }, "no trigger was sent into a running job")

        #expect(await stack.waitUntil(seconds: 60) { stack.recorder.committedTotal == 30 }, "commits resume once the broker is back")
        await stack.shutdown()
    }
}
