import ArgumentParser
import BrazeSimulator
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import SyncBridge
import SyncBridgeCore
import Synchronization

/// `syncbridge demo`: the embedded broker, the Braze simulator, the service and a bursty
/// warehouse workload in one process, judged at the end against the simulator's log.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run everything in one process on a generated burst workload (about 35 s).")

    @Option(help: "How long to produce events, in seconds.") var seconds: Int = 30
    @Option(help: "Seed for the workload.") var seed: UInt64 = 7
    @Option(help: "Also serve the HTTP endpoints and the status page here, like 127.0.0.1:8080.") var listen: String?

    static let tables = [
        ("ORDERS", "3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"),
        ("USERS", "7d3e2f10-2b4c-4a5d-8e6f-9a0b1c2d3e4f"),
        ("PRODUCTS", "0b9f6d0c-6a2b-4e8f-9d3c-5e1a7b2c4d6e"),
        ("STORES", "5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d"),
    ]
    static let missingIntegration = "deadbeef-0000-4000-8000-000000000404"

    func run() async throws {
        let logger = LogFormat.text.logger("demo", level: .warning)
        say("SyncBridge demo: embedded Kafka broker + Braze CDI simulator + the service, in one process.")
        let simulator = BrazeSimulator(
            config: {
                var config = SimulatorConfig(apiKey: "demo-key", integrations: Set(Self.tables.map(\.1)), syncDuration: .seconds(2)...(.seconds(5)))
                config.seed = seed
                return config
            }(), logger: logger)
        let port = Mutex<Int?>(nil)
        let simulatorService = simulator.service(port: 0) { bound in port.withLock { $0 = bound } }

        let group = ServiceGroup(configuration: .init(services: [.init(service: simulatorService)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            while port.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(20)) }
            let result = try await runScenario(simulator: simulator, simulatorPort: port.withLock { $0! }, logger: logger)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            if !result { throw ExitCode(1) }
        }
    }

    func configText(port: Int) -> String {
        """
        kafka:
          brokers: embedded
          group: syncbridge-demo
          topics: ["warehouse.prod.data-updated", "cdi.requests"]
          dead_letter_topic: syncbridge.dead-letter
          properties: { topic.metadata.refresh.interval.ms: "1000" }
        targets:
          - name: braze
            endpoint: "http://127.0.0.1:\(port)"
            api_key_env: SYNCBRIDGE_DEMO_KEY
            rate_limit: 20/1m
            status_rate_limit: 100/1m
            timeout: 5s
        coalesce: { quiet: 2s, max_delay: 10s }
        retry: { initial_backoff: 500ms, max_backoff: 10s }
        shutdown_timeout: 20s
        rules:
        \(Self.tables.map { "  - { name: \($0.0.lowercased()), when: { topic: warehouse.*.data-updated, json: { /table: \($0.0), /rows: { gt: 0 } } }, sync: [\"\($0.1)\"] }" }.joined(separator: "\n"))
          - { name: named-in-event, when: { topic: cdi.requests }, sync_from: /integration_id, allow_any: true }
        """
    }

    func runScenario(simulator: BrazeSimulator, simulatorPort: Int, logger: Logger) async throws -> Bool {
        let config = try ConfigLoader.load(text: configText(port: simulatorPort), file: "demo.yaml")
        let recorder = DemoRecorder()
        let service = try SyncService(config: config, environment: ["SYNCBRIDGE_DEMO_KEY": "demo-key"], logger: logger, observer: recorder)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: service)]
        if let listen {
            services.insert(
                .init(
                    service: try HTTPEndpoints.application(for: service, listen: listen) { port in
                        say("status page at http://127.0.0.1:\(port)/ ; try: syncbridge inspect --url 127.0.0.1:\(port)")
                    }), at: 0)
        }
        let serviceGroup = ServiceGroup(configuration: .init(services: services, logger: logger))
        say("broker \(service.bootstrapServers), simulator http://127.0.0.1:\(simulatorPort) (4 integrations, syncs of 2-5 s, 20 triggers/min)")
        say("rules: 4 tables → 4 integrations; coalesce quiet 2s, max_delay 10s\n")

        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await serviceGroup.run() }
            let producer = try KafkaProducer(bootstrapServers: service.bootstrapServers)
            let started = Date()
            let progress = Task {
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(1))
                    let log = await simulator.requests()
                    let triggers = log.filter { $0.kind == .trigger }
                    say(
                        String(
                            format:
                                "%4.0fs  events %5d  triggers %3d (accepted %3d, in progress %d, rate limited %d)  status polls %3d  uncommitted %5d",
                            Date().timeIntervalSince(started), recorder.consumedCount, triggers.count,
                            triggers.filter { $0.status == 202 }.count,
                            triggers.filter { $0.status == 429 && ($0.message ?? "").contains("in progress") }.count,
                            triggers.filter { $0.status == 429 && !($0.message ?? "").contains("in progress") }.count,
                            log.filter { $0.kind == .status }.count, service.uncommittedEvents))
                }
            }
            let produced = try await produceWorkload(producer)
            // Wait for the service to see and cover everything.
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline, recorder.consumedCount < produced || service.uncommittedEvents > 0 || !recorder.committedAll(produced: produced)
            {
                try await Task.sleep(for: .milliseconds(200))
            }
            progress.cancel()
            producer.close()
            await serviceGroup.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return await summarize(simulator: simulator, recorder: recorder, produced: produced, elapsed: Date().timeIntervalSince(started))
        }
    }

    /// Bursts of "table loaded" events, a few malformed values, and events naming integrations by ID.
    func produceWorkload(_ producer: KafkaProducer) async throws -> Int {
        var random = SplitMix64(seed: seed)
        var count = 0
        let start = ContinuousClock.now
        var burst = 0
        while ContinuousClock.now - start < .seconds(seconds) {
            let size = Int.random(in: 40...160, using: &random)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<size {
                    let table = Self.tables[Int.random(in: 0..<(burst % 3 == 0 ? 4 : 2), using: &random)].0
                    let value =
                        #"{"table":"\#(table)","schema":"ANALYTICS","database":"PROD","rows":\#(Int.random(in: 1...50_000, using: &random)),"loaded_at":"\#(Date().formatted(.iso8601))"}"#
                    group.addTask {
                        try await producer.produce(topic: "warehouse.prod.data-updated", key: Array(table.utf8), value: Array(value.utf8))
                    }
                }
                try await group.waitForAll()
            }
            count += size
            if burst % 4 == 1 {
                // Bad input (G8): counted, committed, never a crash or a stall.
                try await producer.produce(topic: "warehouse.prod.data-updated", key: nil, value: Array(#"{"table": "ORDERS", "rows": "#.utf8))
                try await producer.produce(topic: "warehouse.prod.data-updated", key: Array("ORDERS".utf8), value: nil)
                count += 2
            }
            if burst == 2 {
                // An integration that does not exist (404) and an ID that is not a UUID: both dead-lettered (G5, G8).
                try await producer.produce(topic: "cdi.requests", key: nil, value: Array(#"{"integration_id":"\#(Self.missingIntegration)"}"#.utf8))
                try await producer.produce(topic: "cdi.requests", key: nil, value: Array(#"{"integration_id":"not-a-uuid"}"#.utf8))
                count += 2
            }
            burst += 1
            try await Task.sleep(for: .milliseconds(Int64.random(in: 3000...6000, using: &random)))
        }
        return count
    }

    func summarize(simulator: BrazeSimulator, recorder: DemoRecorder, produced: Int, elapsed: Double) async -> Bool {
        let log = await simulator.requests()
        let triggers = log.filter { $0.kind == .trigger }
        let accepted = triggers.filter { $0.status == 202 }
        var acceptedAt: [String: [Double]] = [:]
        for request in accepted { acceptedAt[request.integrationID?.lowercased() ?? "", default: []].append(request.receivedAt) }
        let events = recorder.events
        let deadLettered = recorder.deadLettered
        var latencies: [Double] = []
        var uncovered = 0, pairs = 0
        for event in events {
            for key in event.integrations {
                pairs += 1
                if deadLettered.contains(event.ref) { continue }
                if let first = acceptedAt[key.integrationID]?.first(where: { $0 >= event.at }) {
                    latencies.append(first - event.at)
                } else {
                    uncovered += 1
                }
            }
        }
        latencies.sort()
        func percentile(_ p: Double) -> String {
            guard !latencies.isEmpty else { return "-" }
            return String(format: "%.1fs", latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))])
        }
        let inProgress = triggers.filter { $0.status == 429 && ($0.message ?? "").contains("in progress") }.count
        let rateLimited = triggers.filter { $0.status == 429 && !($0.message ?? "").contains("in progress") }.count
        let busiest = busiestMinute(triggers.map(\.receivedAt))
        let covered = uncovered == 0 && recorder.committedAll(produced: produced) && events.count == produced
        let rows: [(String, String)] = [
            ("events produced / consumed", "\(produced) / \(events.count)"),
            ("event→integration pairs", "\(pairs)"),
            ("trigger calls", "\(triggers.count) (accepted \(accepted.count), 404 \(triggers.filter { $0.status == 404 }.count))"),
            (
                "coalescing ratio",
                accepted.isEmpty
                    ? "-" : String(format: "%.1f pairs per accepted trigger", Double(pairs - deadLettered.count) / Double(accepted.count))
            ),
            ("status polls", "\(log.filter { $0.kind == .status }.count)"),
            ("wasted calls (429 in progress)", "\(inProgress)"),
            ("rate limited (429)", "\(rateLimited)"),
            ("most triggers in any minute", "\(busiest) (limit 20)"),
            ("latency event→accepted p50 / p99", "\(percentile(0.5)) / \(percentile(0.99))"),
            ("dead-lettered events", "\(deadLettered.count)"),
            ("offsets committed to the end", recorder.committedAll(produced: produced) ? "yes" : "no"),
            ("run time", String(format: "%.0fs", elapsed)),
        ]
        say("\nSummary")
        for (name, value) in rows { say("  \(name.padding(34)) \(value)") }
        say("  every event covered: \(covered ? "yes" : "no")")
        return covered
    }

    func busiestMinute(_ times: [Double]) -> Int {
        let sorted = times.sorted()
        var best = 0, start = 0
        for end in sorted.indices {
            while sorted[end] - sorted[start] >= 60 { start += 1 }
            best = max(best, end - start + 1)
        }
        return best
    }
}

func say(_ text: String) { printLine(text) }

/// What the service consumed, covered, dead-lettered and committed during the demo.
final class DemoRecorder: SyncObserver {
    struct Consumed: Sendable {
        var ref: EventRef
        var integrations: [IntegrationKey]
        var at: Double
    }

    private let consumed = Mutex<[Consumed]>([])
    private let dead = Mutex<Set<EventRef>>([])
    private let commits = Mutex<[PartitionID: Int64]>([:])

    func consumed(_ event: EventRef, integrations: [IntegrationKey], at: Date) {
        consumed.withLock { $0.append(Consumed(ref: event, integrations: integrations, at: at.timeIntervalSince1970)) }
    }

    func committed(_ offsets: [PartitionID: Int64]) {
        commits.withLock { $0.merge(offsets) { max($0, $1) } }
    }

    func deadLettered(_ order: DeadLetterOrder) {
        dead.withLock { $0.formUnion(order.events) }
    }

    var consumedCount: Int { consumed.withLock { $0.count } }
    var events: [Consumed] { consumed.withLock { $0 } }
    var deadLettered: Set<EventRef> { dead.withLock { $0 } }

    /// Every consumed partition is committed past its last consumed offset.
    func committedAll(produced: Int) -> Bool {
        let last = consumed.withLock { events in
            events.reduce(into: [PartitionID: Int64]()) { $0[$1.ref.partition] = max($0[$1.ref.partition] ?? -1, $1.ref.offset) }
        }
        let committed = commits.withLock { $0 }
        return last.allSatisfy { partition, offset in (committed[partition] ?? 0) > offset }
    }
}
