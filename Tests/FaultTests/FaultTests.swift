import BrazeSimulator
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Kafka
import Testing

/// The service as a real child process (`syncbridge run`), killed, failed over and starved,
/// with the broker and the Braze simulator as separate processes (or the broker in-process
/// where the test injects broker faults). Each test is bounded to well under a minute.
@Suite(.serialized) struct FaultTests {
    @Test func G7_killNineThreeTimesDuringBurstsLosesNothing() async throws {
        try await withFaultRig { rig in
            try await rig.startBroker()
            try await rig.startSimulator()
            let config = try rig.writeConfig()
            var next = 0
            for _ in 0..<3 {
                let service = try await rig.startService(config: config)
                // Killed mid-burst: some events consumed and uncovered, some triggered and uncommitted.
                let start = next
                async let burst: Void = rig.produce(300, startingAt: start)
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...900)))
                service.kill9()
                try await burst
                next += 300
            }
            let survivor = try await rig.startService(config: config)
            try await rig.produce(60, startingAt: next)
            try await rig.waitUntilAllCoveredAndCommitted()
            #expect(survivor.isRunning)
        }
    }

    @Test func brokerDownAndRequestErrorsLoseNothing() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        defer { cluster.shutdown() }
        try cluster.createTopic(topic, partitions: 4)
        try await withFaultRig { rig in
            rig.useBroker(cluster.bootstrapServers)
            try await rig.startSimulator()
            let service = try await rig.startService(config: try rig.writeConfig())
            try await rig.produce(150)

            try cluster.setBrokerDown(1)
            try await Task.sleep(for: .seconds(2))
            try cluster.setBrokerUp(1)
            try await rig.produce(150, startingAt: 150)

            // OffsetCommit (8) and Fetch (1) fail a few times with retriable errors.
            cluster.pushRequestErrors(apiKey: 8, errors: [16, 15, 7])
            cluster.pushRequestErrors(apiKey: 1, errors: [6, 6, 7])
            try await rig.produce(150, startingAt: 300)
            try await rig.waitUntilAllCoveredAndCommitted()
            #expect(service.isRunning)
        }
    }

    @Test func brazeErrorsLatencyAndDropsLoseNothingAndKeepTheBudget() async throws {
        try await withFaultRig { rig in
            try await rig.startBroker()
            try await rig.startSimulator(["--error-rate", "0.3", "--latency", "50ms-300ms", "--drop-rate", "0.1"], rateLimit: "10/10s")
            let service = try await rig.startService(config: try rig.writeConfig(rateLimit: "10/10s"))
            try await rig.produce(90)
            try await Task.sleep(for: .seconds(1))
            try await rig.produce(90, startingAt: 90)
            try await rig.waitUntilAllCoveredAndCommitted(seconds: 50)
            #expect(service.isRunning)

            let triggers = try await rig.simulatorLog().filter { $0.kind == .trigger }.map(\.receivedAt).sorted()
            // G4: no 10 s window holds more than 10 triggers. The window is shortened by 100 ms
            // because the log stamps arrival, a few ms after the service spent its token.
            var busiest = 0
            for (index, start) in triggers.enumerated() {
                busiest = max(busiest, triggers[index...].prefix { $0 < start + 9.9 }.count)
            }
            #expect(busiest <= 10, "at most 10 triggers in any 10 s window, saw \(busiest)")
            let rateLimited = try await rig.simulatorLog().filter { $0.status == 429 && $0.message?.lowercased().contains("rate") == true }
            #expect(rateLimited.isEmpty, "the simulator never had to rate-limit a trigger")
        }
    }

    @Test func failoverTheSurvivorTakesOverAndCoversEverything() async throws {
        try await withFaultRig(partitions: 6) { rig in
            try await rig.startBroker()
            try await rig.startSimulator()
            let config = try rig.writeConfig()
            let first = try await rig.startService(config: config)
            let second = try await rig.startService(config: config)
            // The first member gives up partitions to the second (cooperative rebalance).
            _ = try await first.waitForOutput("revoked")
            async let burst: Void = rig.produce(300)
            try await Task.sleep(for: .milliseconds(400))
            first.kill9()
            try await burst
            try await rig.produce(60, startingAt: 300)
            try await rig.waitUntilAllCoveredAndCommitted(seconds: 40)
            #expect(second.isRunning)
        }
    }

    @Test func sigtermTriggersDirtyIntegrationsCommitsAndExitsZero() async throws {
        try await withFaultRig { rig in
            try await rig.startBroker()
            try await rig.startSimulator()
            // Coalescing would wait 30 s: only the shutdown can trigger these.
            let service = try await rig.startService(config: try rig.writeConfig(quiet: "30s", maxDelay: "60s", http: true))
            let port = try await rig.httpPort(of: service)
            try await rig.produce(90)
            let metricsURL = URL(string: "http://127.0.0.1:\(port)/metrics")!
            let consumedAll = try await waitUntil(seconds: 15) {
                guard let (data, _) = try? await URLSession.shared.data(from: metricsURL) else { return false }
                return String(decoding: data, as: UTF8.self).contains("syncbridge_uncommitted_events 90")
            }
            #expect(consumedAll, "the service consumed all 90 events")
            #expect(try await rig.simulatorLog().filter { $0.kind == .trigger }.isEmpty)

            let stopAt = Date().timeIntervalSince1970
            service.terminate()
            #expect(await service.waitForExit(seconds: 15) == 0, "exit code 0 after SIGTERM")
            let accepted = try await rig.simulatorLog().filter { $0.kind == .trigger && $0.status == 202 }
            #expect(Set(accepted.compactMap(\.integrationID)) == Set(integrations))
            #expect(accepted.allSatisfy { $0.receivedAt >= stopAt })
            #expect(try await rig.uncovered().isEmpty)
            // Everything committed: a restarted member would get nothing again.
            #expect(try rig.committed() == rig.expectedCommits)
        }
    }

    /// SPEC §9: `shutdown_timeout` holds even when a step is stuck. Here the broker is gone for
    /// good and a webhook request never finishes sending its body, so the HTTP server cannot
    /// close gracefully; the process still ends within the timeout, with exit status 1 and a
    /// line naming what was stuck.
    @Test func shutdownTimeoutHoldsWhenARequestAndTheBrokerAreStuck() async throws {
        try await withFaultRig { rig in
            try await rig.startBroker()
            // Jobs outlast the test: the events produced during the first job stay uncovered.
            try await rig.startSimulator(syncDuration: "5m")
            let service = try await rig.startService(
                config: try rig.writeConfig(quiet: "100ms", maxDelay: "500ms", shutdownTimeout: "3s", http: true))
            let port = try await rig.httpPort(of: service)
            try await rig.produce(30)
            let triggered = try await waitUntil(seconds: 15) { try await rig.simulatorLog().filter { $0.status == 202 }.count == 3 }
            #expect(triggered, "each integration's first trigger was accepted")
            try await rig.produce(30, startingAt: 30)
            // Promises 1000 bytes of body and sends 10.
            let stalled = try openSocket(port: port)
            defer { close(stalled) }
            let head = "POST /v1/events/\(topic) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"table\":"
            _ = head.withCString { send(stalled, $0, strlen($0), 0) }
            try await Task.sleep(for: .seconds(1))
            rig.child(named: "broker")?.kill9()

            let stopAt = ContinuousClock.now
            service.terminate()
            let status = await service.waitForExit(seconds: 10)
            let took = ContinuousClock.now - stopAt
            #expect(took < .seconds(4.5), "exited \(took) after SIGTERM; shutdown_timeout is 3s")
            #expect(status == 1, "exit status 1 when the shutdown overran")
            #expect(service.output.contains("shutdown_timeout (3s) exceeded while"), "names what was stuck: \(service.output.suffix(2000))")
            #expect(!service.output.contains("Fatal error"), "no trap on the way out")
        }
    }
}

func waitUntil(seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(100))
    }
    return try await condition()
}

/// A TCP connection to 127.0.0.1:`port`, as a raw descriptor (for requests a client library would not send).
func openSocket(port: UInt16) throws -> Int32 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard descriptor >= 0, connected == 0 else {
        close(descriptor)
        throw FaultTestFailure(description: "cannot connect to 127.0.0.1:\(port)")
    }
    return descriptor
}
