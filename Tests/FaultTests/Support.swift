import BrazeSimulator
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Kafka
import Synchronization
import Testing

let topic = "warehouse.prod.data-updated"
let group = "faults"
let apiKey = "fault-key"
let integrations = [
    "3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70",
    "7d3e2f10-2b4c-4a5d-8e6f-9a0b1c2d3e4f",
    "0b9f6d0c-6a2b-4e8f-9d3c-5e1a7b2c4d6e",
]
let tables = ["ORDERS", "USERS", "ITEMS"]

struct FaultTestFailure: Error, CustomStringConvertible {
    var description: String
}

/// The built `syncbridge` binary. Tests cannot depend on an executable target, but it sits in
/// the same build products directory as the test bundle, whatever the scratch path.
let syncbridgeBinary: String? = {
    if let given = ProcessInfo.processInfo.environment["SYNCBRIDGE_BINARY"] { return given }
    var candidates: [URL] = []
    for start in [CommandLine.arguments.first, Bundle.main.executablePath, Bundle.main.bundlePath].compactMap({ $0 }) {
        var directory = URL(fileURLWithPath: start).deletingLastPathComponent()
        // The bundle may be a directory (…/X.xctest/Contents/MacOS/X); walk up a few levels.
        for _ in 0..<4 {
            candidates.append(directory.appendingPathComponent("syncbridge"))
            directory.deleteLastPathComponent()
        }
    }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(root.appendingPathComponent(".build/debug/syncbridge"))
    return candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
}()

/// A child process whose output goes to a file (never a pipe that could fill up and block it).
final class Child: @unchecked Sendable {
    let name: String
    let process = Process()
    let outputPath: String

    /// Runs `executable`, `syncbridge` by default.
    init(_ name: String, executable: String? = nil, arguments: [String], environment: [String: String] = [:], directory: URL) throws {
        guard let binary = executable ?? syncbridgeBinary else {
            throw FaultTestFailure(
                description: "syncbridge binary not found next to the test bundle; build the package (swift build) first or set SYNCBRIDGE_BINARY")
        }
        self.name = name
        outputPath = directory.appendingPathComponent("\(name).log").path
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try? output.close()
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    var isRunning: Bool { process.isRunning }

    func kill9() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    func terminate() {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    }

    /// The exit status, or nil if it is still running after `seconds`.
    func waitForExit(seconds: Double) async -> Int32? {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while process.isRunning, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// Waits for a line of output containing `text`.
    func waitForOutput(_ text: String, seconds: Double = 20) async throws -> String {
        try await waitForOutput(matching: { $0.contains(text) }, seconds: seconds, what: text)
    }

    func waitForOutput(matching predicate: (String) -> Bool, seconds: Double = 20, what: String = "the expected line") async throws -> String {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let line = output.split(separator: "\n").map(String.init).first(where: predicate) { return line }
            guard process.isRunning else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw FaultTestFailure(description: "\(name) did not print '\(what)' in time; its output:\n\(output.suffix(4000))")
    }
}

/// What a test started: child processes, a scratch directory and what was produced.
/// `withFaultRig` kills every child however the test ends.
final class FaultRig: @unchecked Sendable {
    let directory: URL
    private let children = Mutex<[Child]>([])
    private(set) var bootstrapServers = ""
    private(set) var simulatorURL = ""
    let partitions: Int32
    /// The latest produce start time per integration, and produced counts per partition.
    let produced = Mutex<(latest: [String: Double], perPartition: [Int32: Int64])>(([:], [:]))
    private var producer: KafkaProducer?
    private var serviceCount = 0

    init(partitions: Int32) throws {
        self.partitions = partitions
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("syncbridge-faults-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func spawn(_ name: String, executable: String? = nil, _ arguments: [String], environment: [String: String] = [:]) throws -> Child {
        let child = try Child(name, executable: executable, arguments: arguments, environment: environment, directory: directory)
        children.withLock { $0.append(child) }
        return child
    }

    func child(named name: String) -> Child? { children.withLock { $0.first { $0.name == name } } }

    func killAll() {
        // The producer first, so it does not log the broker's disappearance.
        producer?.close()
        producer = nil
        for child in children.withLock({ $0 }) { child.kill9() }
    }

    /// `syncbridge broker` as a child, or an in-process cluster's address.
    func startBroker() async throws {
        let broker = try spawn("broker", ["broker", "--topic", "\(topic):\(partitions)"])
        // Its first stdout line is bootstrap.servers; stderr shares the file, so match the shape.
        bootstrapServers = try await broker.waitForOutput(matching: { $0.hasPrefix("127.0.0.1:") && !$0.contains(" ") })
    }

    func useBroker(_ bootstrapServers: String) { self.bootstrapServers = bootstrapServers }

    func startSimulator(
        _ extra: [String] = [], integrations: [String] = integrations, syncDuration: String = "200ms", rateLimit: String = "100/1s",
        statusRateLimit: String = "1000/1s"
    ) async throws {
        let sim = try spawn(
            "braze-sim",
            [
                "braze-sim", "--listen", "127.0.0.1:0", "--api-key", apiKey, "--sync-duration", syncDuration,
                "--rate-limit", rateLimit, "--status-rate-limit", statusRateLimit,
            ]
                + integrations.flatMap { ["--integration", $0] } + extra)
        let line = try await sim.waitForOutput("listening on")
        guard let url = line.split(separator: " ").first(where: { $0.hasPrefix("http://") }) else {
            throw FaultTestFailure(description: "cannot read the simulator address from '\(line)'")
        }
        simulatorURL = String(url)
    }

    /// Quick group settings for the embedded broker; `defaultSession` keeps SyncBridge's own session timeout.
    static func groupProperties(defaultSession: Bool = false) -> String {
        (defaultSession ? "" : #"session.timeout.ms: "4500", heartbeat.interval.ms: "100", "#)
            + #"topic.metadata.refresh.interval.ms: "500", fetch.wait.max.ms: "50", reconnect.backoff.max.ms: "200""#
    }

    func writeConfig(
        quiet: String = "300ms", maxDelay: String = "2s", rateLimit: String = "100/1s", shutdownTimeout: String = "10s", http: Bool = false,
        adminToken: String? = nil, defaultSession: Bool = false
    ) throws -> String {
        let admin = adminToken.map { ", admin_tokens: [\"\($0)\"]" } ?? ""
        let text =
            (http ? "http: { listen: \"127.0.0.1:0\"\(admin) }\n" : "") + """
                kafka:
                  brokers: "\(bootstrapServers)"
                  group: \(group)
                  topics: ["\(topic)"]
                  properties: { \(Self.groupProperties(defaultSession: defaultSession)) }
                targets:
                  - name: braze
                    endpoint: "\(simulatorURL)"
                    api_key_env: FAULT_KEY
                    rate_limit: "\(rateLimit)"
                    status_rate_limit: "1000/1s"
                    timeout: 2s
                coalesce: { quiet: \(quiet), max_delay: \(maxDelay) }
                retry: { initial_backoff: 100ms, max_backoff: 1s }
                shutdown_timeout: \(shutdownTimeout)
                rules:
                  - { name: orders, when: { topic: "\(topic)", json: { /table: ORDERS } }, sync: ["\(integrations[0])"] }
                  - { name: users, when: { topic: "\(topic)", json: { /table: USERS } }, sync: ["\(integrations[1])"] }
                  - { name: items, when: { topic: "\(topic)", json: { /table: ITEMS } }, sync: ["\(integrations[2])"] }
                """
        return try save(text)
    }

    /// Partitioned mode, one workspace, integrations named in the events.
    func writeFleetConfig(rateLimit: String, statusRateLimit: String) throws -> String {
        try save(
            """
            kafka:
              brokers: "\(bootstrapServers)"
              group: \(group)
              topics: ["\(topic)"]
              mode: partitioned
              properties: { \(Self.groupProperties()) }
            targets:
              - name: braze
                endpoint: "\(simulatorURL)"
                api_key_env: FAULT_KEY
                rate_limit: "\(rateLimit)"
                status_rate_limit: "\(statusRateLimit)"
                timeout: 2s
            coalesce: { quiet: 300ms, max_delay: 2s }
            retry: { initial_backoff: 100ms, max_backoff: 1s }
            shutdown_timeout: 10s
            rules:
              - { name: named, when: { topic: "\(topic)" }, sync_from: /integration_id, allow_any: true }
            """)
    }

    private func save(_ text: String) throws -> String {
        let path = directory.appendingPathComponent("config-\(UUID().uuidString.prefix(6)).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// `syncbridge run` as a child; returns once it logs an assignment, unless `waitForAssignment` is false.
    @discardableResult
    func startService(config: String, waitForAssignment: Bool = true) async throws -> Child {
        serviceCount += 1
        let service = try spawn("service-\(serviceCount)", ["run", "--config", config], environment: ["FAULT_KEY": apiKey])
        // As long as the in-process tests allow (see `Stack.waitUntilAssigned`): a first join on the
        // embedded broker took 18 s once under load, and 20 s was too short once in a full run.
        if waitForAssignment { _ = try await service.waitForOutput("assigned", seconds: 40) }
        return service
    }

    /// The port a service started with `http: true` listens on, from its log.
    func httpPort(of service: Child) async throws -> UInt16 {
        let line = try await service.waitForOutput("http endpoints on port")
        return UInt16(line.components(separatedBy: "http endpoints on port ").last?.prefix { $0.isNumber } ?? "") ?? 0
    }

    /// Produces `count` events round-robin over the partitions and integrations, recording
    /// each one's produce start time (conservative: it is consumed later than that).
    func produce(_ count: Int, startingAt first: Int = 0) async throws {
        if producer == nil {
            producer = try KafkaProducer(
                bootstrapServers: bootstrapServers, properties: ["linger.ms": "2", "message.timeout.ms": "30000", "reconnect.backoff.max.ms": "200"])
        }
        let producer = producer!
        let partitions = partitions
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for index in first..<(first + count) {
                let integration = index % integrations.count
                let partition = Int32(index % Int(partitions))
                let startedAt = Date().timeIntervalSince1970
                produced.withLock { state in
                    state.latest[integrations[integration]] = max(state.latest[integrations[integration]] ?? 0, startedAt)
                }
                tasks.addTask {
                    try await producer.produce(
                        topic: topic, key: nil, value: Array(#"{"table":"\#(tables[integration])","rows":\#(index)}"#.utf8), partition: partition)
                }
            }
            try await tasks.waitForAll()
        }
        produced.withLock { state in
            for index in first..<(first + count) { state.perPartition[Int32(index % Int(partitions)), default: 0] += 1 }
        }
    }

    /// Like `produce`, for events that name one of `integrations` (`sync_from`), round-robin;
    /// `partitions` limits where they go.
    func produceFleet(_ count: Int, integrations names: [String], startingAt first: Int = 0, partitions only: [Int32]? = nil) async throws {
        if producer == nil {
            producer = try KafkaProducer(
                bootstrapServers: bootstrapServers, properties: ["linger.ms": "2", "message.timeout.ms": "30000", "reconnect.backoff.max.ms": "200"])
        }
        let producer = producer!
        let targets = only ?? Array(0..<partitions)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for index in first..<(first + count) {
                let integration = names[index % names.count]
                let partition = targets[index % targets.count]
                let startedAt = Date().timeIntervalSince1970
                produced.withLock { state in
                    state.latest[integration] = max(state.latest[integration] ?? 0, startedAt)
                    state.perPartition[partition, default: 0] += 1
                }
                tasks.addTask {
                    let table = integrations.firstIndex(of: integration).map { tables[$0] } ?? "NONE"
                    try await producer.produce(
                        topic: topic, key: nil, value: Array(#"{"integration_id":"\#(integration)","table":"\#(table)","rows":\#(index)}"#.utf8),
                        partition: partition)
                }
            }
            try await tasks.waitForAll()
        }
    }

    func simulatorLog() async throws -> [SimRequest] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: simulatorURL + "/_sim/requests")!)
        return try JSONDecoder().decode([SimRequest].self, from: data)
    }

    func committed() throws -> [Int32: Int64] {
        let partitions = (0..<partitions).map { TopicPartition(topic: topic, partition: $0) }
        let offsets = try KafkaConsumer.committedOffsets(bootstrapServers: bootstrapServers, groupID: group, partitions: partitions)
        return Dictionary(uniqueKeysWithValues: offsets.map { ($0.key.partition, $0.value) })
    }

    var expectedCommits: [Int32: Int64] { produced.withLock { $0.perPartition } }

    /// Integrations with an event produced after their last accepted trigger (G1 coverage).
    func uncovered() async throws -> [String] {
        let accepted = try await simulatorLog().filter { $0.kind == .trigger && $0.status == 202 }
        let lastAccepted = Dictionary(accepted.map { ($0.integrationID?.lowercased() ?? "", $0.receivedAt) }, uniquingKeysWith: max)
        return produced.withLock { $0.latest }.filter { integration, producedAt in
            (lastAccepted[integration] ?? 0) <= producedAt
        }.keys.sorted()
    }

    /// Waits until every produced offset is committed and every integration covered.
    func waitUntilAllCoveredAndCommitted(seconds: Double = 30) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var last = ""
        while ContinuousClock.now < deadline {
            let committed = (try? committed()) ?? [:]
            let uncovered = (try? await uncovered()) ?? ["?"]
            if committed == expectedCommits, uncovered.isEmpty { return }
            last = "committed \(committed.sorted { $0.key < $1.key }) expected \(expectedCommits.sorted { $0.key < $1.key }); uncovered \(uncovered)"
            try await Task.sleep(for: .milliseconds(200))
        }
        throw FaultTestFailure(description: "not everything covered and committed in \(seconds)s: \(last)\nlogs in \(directory.path)")
    }
}

/// Runs `body` with a fresh rig and kills every child process afterwards, pass or fail.
func withFaultRig(partitions: Int32 = 4, _ body: (FaultRig) async throws -> Void) async throws {
    let rig = try FaultRig(partitions: partitions)
    do {
        try await body(rig)
    } catch {
        rig.killAll()
        throw error
    }
    rig.killAll()
    if ProcessInfo.processInfo.environment["SYNCBRIDGE_KEEP_RIG"] == nil {
        try? FileManager.default.removeItem(at: rig.directory)
    } else {
        print("rig kept in \(rig.directory.path)")
    }
}
