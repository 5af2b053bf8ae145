import BrazeSimulator
import Foundation
import Kafka
import Testing
@testable import SyncBridge
import SyncBridgeCore

@Suite(.serialized) struct EndToEndTests {
    @Test func G1_burstForThreeIntegrationsTriggersEachOnceAndCommitsEverything() async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        try stack.startService()
        let tables = ["ORDERS", "USERS", "ITEMS"]
        try await stack.produce((0..<90).map { (topic, event(table: tables[$0 % 3])) })
        let committed = await stack.waitUntil { stack.recorder.committedTotal == 90 }
        #expect(committed, "all 90 offsets committed")

        let log = await stack.simulator.requests()
        let triggers = log.filter { $0.kind == .trigger }
        // One trigger per integration for the burst, each accepted.
        #expect(
            Dictionary(grouping: triggers, by: { $0.integrationID ?? "" }).mapValues(\.count) == [
                integrationOrders: 1, integrationUsers: 1, integrationItems: 1,
            ])
        #expect(triggers.allSatisfy { $0.status == 202 })
        // G1: each event was consumed before the accepted trigger that covers it was received.
        let accepted = Dictionary(uniqueKeysWithValues: triggers.map { ($0.integrationID ?? "", $0.receivedAt) })
        for event in stack.recorder.consumedEvents.withLock({ $0 }) {
            for key in event.keys { #expect(event.at <= accepted[key.integrationID] ?? 0) }
        }
        await stack.stopService()

        // Nothing is redelivered to the group after a graceful stop.
        let bootstrap = stack.cluster.bootstrapServers
        let redelivered = try await onOwnThread {
            let consumer = try KafkaConsumer(bootstrapServers: bootstrap, groupID: "e2e", topics: [topic], properties: quickGroup)
            defer { consumer.close() }
            var redelivered = 0
            let deadline = ContinuousClock.now + .seconds(4)
            while ContinuousClock.now < deadline {
                if case .message? = consumer.poll(timeoutMilliseconds: 100) { redelivered += 1 }
            }
            return redelivered
        }
        #expect(redelivered == 0)
        await stack.shutdown()
    }

    @Test func G2_eventsDuringARunningJobGetOneTrailingTrigger() async throws {
        let stack = try await Stack(simulator: simulatorConfig(syncDuration: .seconds(2)...(.seconds(2))))
        try stack.startService()
        try await stack.produce([(topic, event(table: "ORDERS"))])
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 1 })
        // The job runs for 2 s; these arrive meanwhile.
        try await stack.produce((0..<5).map { _ in (topic, event(table: "ORDERS")) })
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 6 })
        let triggers = await stack.simulator.requests().filter { $0.kind == .trigger }
        #expect(triggers.map(\.status) == [202, 202])
        #expect(triggers.count == 2)
        #expect(triggers[1].receivedAt - triggers[0].receivedAt >= 2)
        await stack.shutdown()
    }

    @Test func G2_steadyTrickleDuringJobsWastesNoCalls() async throws {
        let stack = try await Stack(simulator: simulatorConfig(syncDuration: .seconds(2)...(.seconds(3))))
        try stack.startService()
        // A trickle consumed all at once after a slow first join would be one trigger.
        #expect(await stack.waitUntilAssigned())
        let producer = try KafkaProducer(bootstrapServers: stack.cluster.bootstrapServers)
        var produced: [Double] = []
        for _ in 0..<16 {
            try await producer.produce(topic: topic, key: nil, value: Array(event(table: "ORDERS").utf8))
            produced.append(Date().timeIntervalSince1970)
            try await Task.sleep(for: .milliseconds(500))
        }
        producer.close()
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 16 })
        let triggers = await stack.simulator.requests().filter { $0.kind == .trigger }
        #expect(triggers.filter { $0.status == 429 }.isEmpty)
        #expect(triggers.count >= 2)
        // Every produced event has an accepted trigger received after it.
        let accepted = triggers.filter { $0.status == 202 }.map(\.receivedAt)
        for time in produced { #expect(accepted.contains { $0 >= time }) }
        await stack.shutdown()
    }

    @Test func G5_notFoundIntegrationIsDeadLetteredWithReasonHeadersThenCommitted() async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        try stack.startService()
        try await stack.produce([("cdi.requests", #"{"integration_id":"\#(missingIntegration)"}"#)])
        #expect(await stack.waitUntil { stack.recorder.commits.withLock { $0[PartitionID(topic: "cdi.requests", partition: 0)] } == 1 })
        let dead = try await readDeadLetters(stack, count: 1)
        #expect(dead.count == 1)
        let headers = Dictionary(
            dead.first?.headers.map { ($0.name, String(decoding: $0.value ?? [], as: UTF8.self)) } ?? [], uniquingKeysWith: { $1 })
        #expect(headers["syncbridge.reason"] == "integration_not_found")
        #expect(headers["syncbridge.integration_id"] == missingIntegration)
        #expect(headers["syncbridge.status"] == "404")
        #expect(headers["syncbridge.source.topic"] == "cdi.requests")
        #expect(headers["syncbridge.source.partition"] == "0")
        #expect(headers["syncbridge.source.offset"] == "0")
        #expect(dead.first.flatMap { $0.value.map { String(decoding: $0, as: UTF8.self) } } == #"{"integration_id":"\#(missingIntegration)"}"#)
        // A second event for it is dead-lettered without another call.
        try await stack.produce([("cdi.requests", #"{"integration_id":"\#(missingIntegration)"}"#)])
        #expect(await stack.waitUntil { stack.recorder.commits.withLock { $0[PartitionID(topic: "cdi.requests", partition: 0)] } == 2 })
        #expect(await stack.simulator.requests().filter { $0.kind == .trigger }.count == 1)
        await stack.shutdown()
    }

    /// Matched records are kept for dead letters only when a dead-letter topic can receive them,
    /// and only until a sync covers them.
    @Test(arguments: [true, false]) func recordsAreKeptForDeadLettersOnlyWithATopicAndUntilCovered(withTopic: Bool) async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        var text = stack.configText(quiet: "2s", maxDelay: "5s")
        if !withTopic { text = text.split(separator: "\n").filter { !$0.contains("dead_letter_topic") }.joined(separator: "\n") }
        try stack.startService(configText: text)
        #expect(await stack.waitUntilAssigned())
        try await stack.produce((0..<3).map { _ in (topic, event(table: "ORDERS")) })
        // The coordinator holds them once their batch, records kept first, reached it; the 2 s quiet period keeps them uncovered.
        #expect(await stack.waitUntil { stack.service.engine.coordinator.withLock { $0.uncommittedEvents } == 3 })
        let kept = stack.service.engine.payloads.storedBytes
        #expect(stack.recorder.committedTotal == 0)
        if withTopic { #expect(kept > 0, "waiting records are kept for dead letters") } else { #expect(kept == 0, "nothing would read them") }
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 3 })
        #expect(stack.service.engine.payloads.storedBytes == 0, "covered records are dropped")
        await stack.shutdown()
    }

    @Test func G5_wrongAPIKeyPausesTheTargetAndCommitsNothing() async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        try stack.startService(environment: ["E2E_KEY": "not-the-key"])
        try await stack.produce([(topic, event(table: "ORDERS"))])
        #expect(await stack.waitUntil { stack.service.notReadyReason?.contains("paused after HTTP 401") == true })
        #expect(stack.recorder.committedTotal == 0)
        #expect(stack.service.uncommittedEvents == 1)
        await stack.shutdown()
    }

    @Test func G5_fixingTheKeyFileResumesThePausedTargetWithNothingLost() async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        let keyFile = FileManager.default.temporaryDirectory.appendingPathComponent("syncbridge-key-\(UUID())").path
        try "wrong-key".write(toFile: keyFile, atomically: true, encoding: .utf8)
        let config = stack.configText().replacingOccurrences(of: "api_key_env: E2E_KEY", with: "api_key_file: \(keyFile)")
        try stack.startService(configText: config, environment: [:])
        try await stack.produce([(topic, event(table: "USERS"))])
        #expect(await stack.waitUntil { stack.service.notReadyReason?.contains("paused after HTTP 401") == true })
        #expect(stack.recorder.committedTotal == 0)
        try "e2e-key".write(toFile: keyFile, atomically: true, encoding: .utf8)
        // The next probe (after max_backoff, 2 s here) reads the new key and covers the event.
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 1 })
        #expect(stack.service.notReadyReason == nil)
        // With no state recorded the first call is a status poll (a cautious start); it found the wrong key.
        let calls = await stack.simulator.requests()
        #expect(calls.first?.status == 401)
        #expect(calls.last { $0.kind == .trigger }?.status == 202)
        await stack.shutdown()
    }

    @Test func G8_badInputIsCountedAndThePartitionKeepsMoving() async throws {
        let stack = try await Stack(simulator: simulatorConfig(), partitions: 1)
        try stack.startService()
        let values: [(String, String?)] = [
            (topic, #"{"table": "ORDERS", "rows": "#), (topic, nil), (topic, "\u{FEFF}not json"),
            ("cdi.requests", #"{"integration_id": 42}"#), ("cdi.requests", #"{"integration_id": "not-a-uuid"}"#),
            (topic, event(table: "ORDERS")),
        ]
        try await stack.produce(values)
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 6 })
        let metrics = stack.service.metricsText
        #expect(metrics.contains(#"syncbridge_events_invalid_total{reason="invalid_json"} 2"#))
        #expect(metrics.contains(#"syncbridge_events_invalid_total{reason="tombstone"} 1"#))
        #expect(metrics.contains(#"syncbridge_events_invalid_total{reason="sync_from_not_string"} 1"#))
        #expect(metrics.contains(#"syncbridge_events_invalid_total{reason="invalid_integration_id"} 1"#))
        #expect(metrics.contains(#"syncbridge_dead_letters_total{reason="invalid_integration_id"} 1"#))
        #expect(await stack.simulator.requests().filter { $0.kind == .trigger }.map(\.integrationID) == [integrationOrders])
        await stack.shutdown()
    }

    @Test func G8_oversizedAndDeeplyNestedValuesAreCountedAndCommitted() async throws {
        let stack = try await Stack(simulator: simulatorConfig(), partitions: 1)
        try stack.startService()
        let samples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
            "Fixtures/samples/malformed")
        let deep = try [UInt8](Data(contentsOf: samples.appendingPathComponent("deep-nesting.json")))
        // Valid JSON that would match the orders rule, but over the 1 MiB cap.
        let padding = String(repeating: "x", count: 1 << 20)
        let oversized = Array(#"{"table":"ORDERS","pad":"\#(padding)"}"#.utf8)
        try await stack.produce(bytes: [(topic, oversized), (topic, deep), (topic, Array(event(table: "ORDERS").utf8))])
        #expect(await stack.waitUntil { stack.recorder.committedTotal == 3 })
        let metrics = stack.service.metricsText
        #expect(metrics.contains(#"syncbridge_events_invalid_total{reason="oversized"} 1"#))
        #expect(metrics.contains(#"syncbridge_events_invalid_total{reason="too_deep"} 1"#))
        #expect(await stack.simulator.requests().filter { $0.kind == .trigger }.map(\.integrationID) == [integrationOrders])
        await stack.shutdown()
    }

    @Test func backpressurePausesTheBusiestPartitionsAndResumesThem() async throws {
        var simulator = simulatorConfig()
        simulator.triggerRateLimit = .init(count: 100, window: .seconds(10))
        let stack = try await Stack(simulator: simulator, partitions: 4)
        // Bound 100; nothing is covered for 1 s after an integration's first event.
        try stack.startService(configText: stack.configText(quiet: "1s", maxDelay: "1s", maxUncommitted: 100, rateLimit: "100/10s"))
        let tables = ["ORDERS", "USERS", "ITEMS"]
        let produced = Task { try await stack.produce((0..<1500).map { (topic, event(table: tables[$0 % 3])) }) }
        var peak = 0
        var sawThrottled = false
        let done = await stack.waitUntil(seconds: 60) {
            peak = max(peak, stack.service.uncommittedEvents)
            sawThrottled = sawThrottled || stack.service.throttledPartitionCount > 0
            return stack.recorder.committedTotal == 1500
        }
        try await produced.value
        #expect(
            done,
            "all 1500 offsets committed; committed \(stack.recorder.committedTotal), uncommitted \(stack.service.uncommittedEvents), consumed \(stack.recorder.consumedCount)"
        )
        #expect(sawThrottled, "some partitions were paused")
        // Pausing skipped nothing: every record was consumed (some more than once is fine).
        #expect(Set(stack.recorder.consumedEvents.withLock { $0.map(\.ref) }).count == 1500)
        // The loop checks the bound every 50 records, so the overshoot stays small.
        #expect(peak <= 100 + 100, "uncommitted peaked at \(peak)")
        #expect(stack.service.throttledPartitionCount == 0, "resumed once below the low-water mark")
        await stack.shutdown()
    }
}

func readDeadLetters(_ stack: Stack, count: Int) async throws -> [KafkaMessage] {
    let bootstrap = stack.cluster.bootstrapServers
    return try await onOwnThread {
        let consumer = try KafkaConsumer(
            bootstrapServers: bootstrap, groupID: "dlq-reader-\(UUID())", topics: [deadLetterTopic], properties: quickGroup)
        defer { consumer.close() }
        var messages: [KafkaMessage] = []
        let deadline = ContinuousClock.now + .seconds(15)
        while messages.count < count, ContinuousClock.now < deadline {
            if case .message(let message)? = consumer.poll(timeoutMilliseconds: 100) { messages.append(message) }
        }
        return messages
    }
}
