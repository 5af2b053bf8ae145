import BrazeSimulator
import Foundation
import Testing
@testable import SyncBridge
import SyncBridgeCore

/// Rules reload with the service running: the path SIGHUP and a changed `rules_file` take.
@Suite(.serialized) struct RulesReloadTests {
    static func rules(ordersTo integration: String) -> String {
        """
        - { name: orders, when: { topic: "warehouse.*.data-updated", json: { /table: ORDERS } }, sync: ["\(integration)"] }
        - { name: users, when: { topic: "warehouse.*.data-updated", json: { /table: USERS } }, sync: ["\(integrationUsers)"] }
        """
    }

    @Test func G9_reloadSwapsRulesKeepsPendingWorkAndRefusesInvalidFiles() async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let configFile = directory.appendingPathComponent("syncbridge.yaml")
        let rulesFile = directory.appendingPathComponent("rules.yaml")
        // A long quiet period, so the first events are still waiting when the rules change.
        var text = stack.configText(quiet: "3s", maxDelay: "6s")
        text = String(text[..<text.range(of: "rules:\n")!.lowerBound]) + "rules_file: rules.yaml\n"
        try text.write(to: configFile, atomically: true, encoding: .utf8)
        try Self.rules(ordersTo: integrationOrders).write(to: rulesFile, atomically: true, encoding: .utf8)
        let environment = ["E2E_KEY": "e2e-key"]
        try stack.startService(config: ConfigLoader.load(path: configFile.path, environment: environment), environment: environment)

        // Waiting on ORDERS (about to be unmapped) and on USERS (still mapped).
        try await stack.produce([(topic, event(table: "ORDERS")), (topic, event(table: "USERS"))])
        #expect(await stack.waitUntil { stack.recorder.consumedCount == 2 })
        #expect(await stack.simulator.requests().filter { $0.kind == .trigger }.isEmpty, "still coalescing")

        // ORDERS now goes to another integration.
        try Self.rules(ordersTo: integrationItems).write(to: rulesFile, atomically: true, encoding: .utf8)
        let reloadedAt = Date().timeIntervalSince1970
        let reloaded = stack.service.reloadRules(from: configFile.path, environment: environment, reason: "test")
        #expect((try? reloaded.get())?.rules.count == 2)

        // An invalid file is refused with file:line and the reloaded rules keep running.
        try "- { name: orders, when: { topic: t, json: { table: X } }, sync: [\"\(integrationItems)\"] }\n".write(
            to: rulesFile, atomically: true, encoding: .utf8)
        guard case .failure(let errors) = stack.service.reloadRules(from: configFile.path, environment: environment, reason: "test") else {
            Issue.record("an invalid rules file was accepted")
            return
        }
        #expect(
            errors.issues.map(\.description) == [
                "\(rulesFile.path):1: rule 'orders' when.json: JSON pointer 'table' must start with '/' (RFC 6901), for example '/table'"
            ])

        try await stack.produce([(topic, event(table: "ORDERS"))])
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 3 }, "every event covered and committed")
        let consumed = stack.recorder.consumedEvents.withLock { $0 }
        // The two events before the reload may arrive in either order (different partitions).
        #expect(Set(consumed.prefix(2).flatMap { $0.keys.map(\.integrationID) }) == [integrationOrders, integrationUsers])
        #expect(consumed.last?.keys.map(\.integrationID) == [integrationItems])

        let triggers = await stack.simulator.requests().filter { $0.kind == .trigger && $0.status == 202 }
        let triggered = Dictionary(grouping: triggers, by: { $0.integrationID ?? "" }).mapValues(\.count)
        // The event waiting on the no-longer-mapped integration was still covered, after the reload.
        #expect(triggered == [integrationOrders: 1, integrationUsers: 1, integrationItems: 1])
        #expect(triggers.allSatisfy { $0.receivedAt >= reloadedAt })
        await stack.shutdown()
    }

    @Test func reloadRefusesRulesForATargetTheProcessDoesNotHave() async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let configFile = directory.appendingPathComponent("syncbridge.yaml")
        let environment = ["E2E_KEY": "e2e-key"]
        try stack.configText().write(to: configFile, atomically: true, encoding: .utf8)
        try stack.startService(config: ConfigLoader.load(path: configFile.path, environment: environment), environment: environment)

        let renamed = stack.configText().replacingOccurrences(of: "- name: braze", with: "- name: braze-eu")
        try renamed.write(to: configFile, atomically: true, encoding: .utf8)
        guard case .failure(let errors) = stack.service.reloadRules(from: configFile.path, environment: environment, reason: "test") else {
            Issue.record("rules for an unknown target were accepted")
            return
        }
        #expect(errors.issues.first?.message.contains("target 'braze-eu', which this process was not started with") == true)
        #expect(stack.service.engine.rules.withLock { $0 }.rules.allSatisfy { $0.target == "braze" })
        await stack.shutdown()
    }
}
