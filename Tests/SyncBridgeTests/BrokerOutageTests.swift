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
        let stack = try await Stack(simulator: simulatorConfig(syncDuration: .seconds(1)...(.seconds(5))))
        // A session longer than the outage, so the group keeps its members and the test reads
        // the scheduling, not a rebalance.
        let config = stack.configText(quiet: "200ms", maxDelay: "1s").replacingOccurrences(of: "session.timeout.ms: \"6000\"", with: "session.timeout.ms: \"45000\"")
        try stack.startService(configText: config)
        let tables = ["ORDERS", "USERS", "ITEMS"]
        try await stack.produce((0..<30).map { (topic, event(table: tables[$0 % 3])) })
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 30 }, "the first burst is covered and committed")

        // More events while the three jobs run: each integration now waits for a trailing trigger.
        try await stack.produce((0..<30).map { (topic, event(table: tables[$0 % 3])) })
        #expect(await stack.waitUntil { stack.recorder.consumedCount == 60 })
        try stack.cluster.setBrokerDown(1)
        let down = Date().timeIntervalSince1970

        let trailing = await stack.waitUntil(seconds: 25) {
            await stack.simulator.requests().filter { $0.kind == .trigger && $0.status == 202 }.count == 6
        }
        let up = Date().timeIntervalSince1970
        try stack.cluster.setBrokerUp(1)
        #expect(trailing, "three trailing triggers were accepted while the broker was down")

        let log = await stack.simulator.requests()
        let accepted = log.filter { $0.kind == .trigger && $0.status == 202 }
        for id in [integrationOrders, integrationUsers, integrationItems] {
            let triggers = accepted.filter { $0.integrationID == id }.map(\.receivedAt)
            try #require(triggers.count == 2, "\(id): first trigger and one trailing trigger")
            // Jobs last 1 to 5 s, so they end at different times, each followed by a status poll and
            // the trailing trigger; neither waits for the broker's return, nor for another's commit.
            #expect(triggers[1] - triggers[0] < 10, "\(id): trailing trigger \(triggers[1] - triggers[0]) s after the first")
            #expect(triggers[1] > down && triggers[1] < up, "\(id): trailing trigger sent during the outage")
        }
        #expect(log.contains { $0.kind == .status && $0.receivedAt > down && $0.receivedAt < up }, "status polls went out during the outage")
        #expect(!log.contains { $0.status == 429 }, "no trigger was sent into a running job")

        #expect(await stack.waitUntil(seconds: 60) { stack.recorder.committedTotal == 60 }, "commits resume once the broker is back")
        await stack.shutdown()
    }
}
