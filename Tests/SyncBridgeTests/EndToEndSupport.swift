import BrazeSimulator
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Synchronization
@testable import SyncBridge
import SyncBridgeCore

let integrationOrders = "3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"
let integrationUsers = "7d3e2f10-2b4c-4a5d-8e6f-9a0b1c2d3e4f"
let integrationItems = "0b9f6d0c-6a2b-4e8f-9d3c-5e1a7b2c4d6e"
let missingIntegration = "deadbeef-0000-4000-8000-000000000404"
let topic = "warehouse.prod.data-updated"
let deadLetterTopic = "syncbridge.dead-letter"

/// Group settings that make rebalances quick on the embedded cluster.
let quickGroup = [
    "session.timeout.ms": "6000",
    "heartbeat.interval.ms": "100",
    "topic.metadata.refresh.interval.ms": "500",
    "fetch.wait.max.ms": "50",
]

func quietLogger() -> Logger {
    var logger = Logger(label: "e2e")
    logger.logLevel = .critical
    return logger
}

/// Records what the service consumed, with wall-clock times, and what it committed.
final class Recorder: SyncObserver {
    let consumedEvents = Mutex<[(ref: EventRef, keys: [IntegrationKey], at: Double)]>([])
    let commits = Mutex<[PartitionID: Int64]>([:])
    let deadLetters = Mutex<[DeadLetterOrder]>([])

    func consumed(_ event: EventRef, integrations: [IntegrationKey], at: Date) {
        consumedEvents.withLock { $0.append((event, integrations, at.timeIntervalSince1970)) }
    }

    func committed(_ offsets: [PartitionID: Int64]) { commits.withLock { $0.merge(offsets) { max($0, $1) } } }
    func deadLettered(_ order: DeadLetterOrder) { deadLetters.withLock { $0.append(order) } }

    var consumedCount: Int { consumedEvents.withLock { $0.count } }

    /// Sum over partitions of the next offset to consume, as committed.
    var committedTotal: Int64 { commits.withLock { $0.values.reduce(0, +) } }
}

/// The embedded broker, the Braze simulator and the service, wired as a user would.
final class Stack: @unchecked Sendable {
    let cluster: EmbeddedKafkaCluster
    let simulator: BrazeSimulator
    let recorder = Recorder()
    var service: SyncService!
    private var tasks: [Task<Void, Error>] = []
    private var serviceGroup: ServiceGroup?
    private(set) var simulatorPort = 0

    init(simulator config: SimulatorConfig, partitions: Int32 = 3) async throws {
        cluster = try EmbeddedKafkaCluster(brokers: 1)
        try cluster.createTopic(topic, partitions: partitions)
        try cluster.createTopic("cdi.requests", partitions: 1)
        try cluster.createTopic(deadLetterTopic, partitions: 1)
        simulator = BrazeSimulator(config: config, logger: quietLogger())
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let simulator = simulator
        tasks.append(
            Task {
                try await simulator.run(port: 0) { port in
                    continuation.yield(port)
                    continuation.finish()
                }
            })
        for await port in ports { simulatorPort = port }
    }

    func configText(
        apiKeyEnv: String = "E2E_KEY", quiet: String = "500ms", maxDelay: String = "5s", maxUncommitted: Int = 1_000_000, rateLimit: String = "20/1m"
    ) -> String {
        """
        kafka:
          brokers: "\(cluster.bootstrapServers)"
          group: e2e
          max_uncommitted: "\(maxUncommitted)"
          topics: ["\(topic)", "cdi.requests"]
          dead_letter_topic: \(deadLetterTopic)
          properties: { session.timeout.ms: "6000", heartbeat.interval.ms: "100", topic.metadata.refresh.interval.ms: "500", fetch.wait.max.ms: "50" }
        targets:
          - name: braze
            endpoint: "http://127.0.0.1:\(simulatorPort)"
            api_key_env: \(apiKeyEnv)
            rate_limit: "\(rateLimit)"
            timeout: 2s
        coalesce: { quiet: \(quiet), max_delay: \(maxDelay) }
        retry: { initial_backoff: 200ms, max_backoff: 2s }
        shutdown_timeout: 10s
        rules:
          - { name: orders, when: { topic: "warehouse.*.data-updated", json: { /table: ORDERS } }, sync: ["\(integrationOrders)"] }
          - { name: users, when: { topic: "warehouse.*.data-updated", json: { /table: USERS } }, sync: ["\(integrationUsers)"] }
          - { name: items, when: { topic: "warehouse.*.data-updated", json: { /table: ITEMS } }, sync: ["\(integrationItems)"] }
          - { name: named, when: { topic: cdi.requests }, sync_from: /integration_id, allow_any: true }
        """
    }

    func startService(configText: String? = nil, environment: [String: String] = ["E2E_KEY": "e2e-key"]) throws {
        try startService(config: ConfigLoader.load(text: configText ?? self.configText(), file: "e2e.yaml"), environment: environment)
    }

    func startService(config: ServiceConfig, environment: [String: String] = ["E2E_KEY": "e2e-key"], logger: Logger = quietLogger()) throws {
        let service = try SyncService(config: config, environment: environment, logger: logger, observer: recorder)
        self.service = service
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: quietLogger()))
        serviceGroup = group
        tasks.append(Task { try await group.run() })
    }

    func stopService() async {
        // Without a running service the last task is the simulator, which only ends when cancelled.
        guard let group = serviceGroup else { return }
        await group.triggerGracefulShutdown()
        serviceGroup = nil
        try? await tasks.last?.value
    }

    func produce(_ values: [(topic: String, value: String?)]) async throws {
        try await produce(bytes: values.map { ($0.topic, $0.value.map { Array($0.utf8) }) })
    }

    func produce(bytes values: [(topic: String, value: [UInt8]?)]) async throws {
        // Room for the oversized-value case (G8): librdkafka's default cap is 1,000,000 bytes.
        let producer = try KafkaProducer(bootstrapServers: cluster.bootstrapServers, properties: ["message.max.bytes": "4000000"])
        for (topic, value) in values {
            try await producer.produce(topic: topic, key: nil, value: value)
        }
        producer.close()
    }

    func shutdown() async {
        await stopService()
        for task in tasks { task.cancel() }
        cluster.shutdown()
    }

    /// Waits until the service owns its partitions. The embedded group's first join waits 3 s, and
    /// a rejoin meanwhile (the consumer's first metadata refresh) up to the session timeout more;
    /// a test that times its events must not start them before that. A longer session needs a
    /// longer wait.
    func waitUntilAssigned(seconds: Double = 40) async -> Bool {
        await waitUntil(seconds: seconds) { service.notReadyReason == nil }
    }

    /// Waits for `condition`, bounded so a broken pipeline fails instead of hanging.
    func waitUntil(seconds: Double = 30, _ condition: () async -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + .seconds(fractional: seconds)
        while ContinuousClock.now < deadline {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return await condition()
    }
}

func simulatorConfig(syncDuration: ClosedRange<Duration> = .milliseconds(200)...(.milliseconds(200)), apiKey: String = "e2e-key") -> SimulatorConfig {
    var config = SimulatorConfig(apiKey: apiKey, integrations: [integrationOrders, integrationUsers, integrationItems], syncDuration: syncDuration)
    config.seed = 1
    return config
}

func event(table: String, rows: Int = 10) -> String { #"{"table":"\#(table)","rows":\#(rows)}"# }

/// Runs blocking work (librdkafka polls) on its own thread, so a waiting test does not
/// hold one of the few cooperative threads that the other tests' tasks need.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
