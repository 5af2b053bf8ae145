// End-to-end events per second: `syncbridge run` in direct mode and in partitioned mode with
// 1, 2 and 3 processes, beside a raw librdkafka poll loop, all in one run against the same
// embedded broker and topic (one consumer group each, reading from the start). SyncBridge's
// rate is events committed (consume, decode, rules, coordinator, ledger, Braze calls to the
// simulator, commits); the raw loop's is events consumed. Both are the steady rate between 10 %
// and 90 % of the topic, so start-up (the group join) and the last commit interval don't count.
//
//   swift build -c release --product syncbridge --product ThroughputBenchmark
//   .build/release/ThroughputBenchmark [--events N] [--partitions P]
import CRdKafka
import Foundation
import Kafka

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
    return value
}
let eventCount = option("--events", 1_000_000)
let partitionCount = Int32(option("--partitions", 32))
let ruleCount = 100
let integrationIDs = (0..<ruleCount).map { String(format: "7b000000-0000-4000-8000-%012d", $0) }
let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("syncbridge-throughput-\(getpid())")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)

let binary: String = {
    let here = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("syncbridge").path
    guard FileManager.default.isExecutableFile(atPath: here) else {
        FileHandle.standardError.write(
            Data("build the syncbridge product beside this benchmark first: swift build -c release --product syncbridge\n".utf8))
        exit(2)
    }
    return here
}()

// MARK: - Broker, simulator and workload

let cluster = try EmbeddedKafkaCluster(brokers: 1)
defer { cluster.shutdown() }

/// About 120-byte warehouse events; `matching` of every 100 name a table one of the 100 rules maps.
func produceWorkload(topic: String, matchingPercent: Int) throws {
    try cluster.createTopic(topic, partitions: partitionCount)
    let producer = try KafkaProducer(
        bootstrapServers: cluster.bootstrapServers,
        properties: ["linger.ms": "20", "batch.num.messages": "10000", "queue.buffering.max.messages": "2000000"])
    defer { producer.close() }
    let failures = Atomic(0)
    for index in 0..<eventCount {
        let matches = index % 100 < matchingPercent
        let table = matches ? "T\(index % ruleCount)" : "U\(index % 997)"
        let value = #"{"database":"PROD","schema":"ANALYTICS","table":"\#(table)","rows":\#(1000 + index % 50_000),"status":"SUCCESS"}"#
        producer.send(topic: topic, key: nil, value: Array(value.utf8), partition: Int32(index % Int(partitionCount))) { error in
            if error != nil { failures.add() }
        }
    }
    producer.flush(timeoutMilliseconds: 120_000)
    guard failures.value == 0 else { fatalError("\(failures.value) events were not produced") }
}

final class Atomic: @unchecked Sendable {
    private let lock = NSLock()
    private var count: Int
    init(_ value: Int) { count = value }
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}

final class ChildProcess {
    let process = Process()
    init(_ arguments: [String], log: String, environment: [String: String] = [:]) throws {
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.standardOutput = output
        process.standardError = output
        try process.run()
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

func startSimulator() throws -> (ChildProcess, String) {
    let log = scratch.appendingPathComponent("braze-sim.log").path
    // A budget that never binds: this measures the pipeline, not Braze's 20 a minute.
    let sim = try ChildProcess(
        [
            "braze-sim", "--listen", "127.0.0.1:0", "--api-key", "bench", "--sync-duration", "100ms",
            "--rate-limit", "1000000/1m", "--status-rate-limit", "1000000/1m",
        ] + integrationIDs.flatMap { ["--integration", $0] }, log: log)
    let deadline = Date().addingTimeInterval(20)
    while Date() < deadline {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if let line = text.split(separator: "\n").first(where: { $0.contains("listening on") }),
            let url = line.split(separator: " ").first(where: { $0.hasPrefix("http://") })
        {
            return (sim, String(url))
        }
        usleep(50_000)
    }
    fatalError("the simulator did not start; see \(log)")
}

func writeConfig(topic: String, group: String, mode: String, simulator: String) throws -> String {
    let rules = (0..<ruleCount).map {
        #"  - { name: r\#($0), when: { topic: "\#(topic)", json: { /table: T\#($0) } }, sync: ["\#(integrationIDs[$0])"] }"#
    }
    let text = """
        kafka:
          brokers: "\(cluster.bootstrapServers)"
          group: \(group)
          topics: ["\(topic)"]
          mode: \(mode)
          max_uncommitted: 2000000
          properties: { session.timeout.ms: "10000", heartbeat.interval.ms: "500", fetch.wait.max.ms: "50" }
        targets:
          - name: braze
            endpoint: "\(simulator)"
            api_key_env: BENCH_KEY
            rate_limit: "1000000/1m"
            status_rate_limit: "1000000/1m"
        coalesce: { quiet: 500ms, max_delay: 2s }
        rules:
        \(rules.joined(separator: "\n"))
        """
    let path = scratch.appendingPathComponent("\(group).yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

// MARK: - Measurements

struct Measurement {
    var label: String
    var processes: Int
    var eventsPerSecond: Double
}

/// The rate between the moments `progress` first reached 10 % and 90 % of the events.
struct SteadyRate {
    private var low: (Date, Int)?
    private var high: (Date, Int)?

    mutating func record(_ done: Int) {
        if low == nil, done >= eventCount / 10 { low = (Date(), done) }
        if high == nil, done >= eventCount * 9 / 10 { high = (Date(), done) }
    }

    var finished: Bool { high != nil }

    var eventsPerSecond: Double {
        guard let low, let high, high.0 > low.0 else { return 0 }
        return Double(high.1 - low.1) / high.0.timeIntervalSince(low.0)
    }
}

/// Events committed per second by `group`, sampled every 100 ms.
func measureCommits(topic: String, group: String, timeout: TimeInterval) -> Double {
    let partitions = (0..<partitionCount).map { TopicPartition(topic: topic, partition: $0) }
    var rate = SteadyRate()
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline, !rate.finished {
        let committed =
            (try? KafkaConsumer.committedOffsets(
                bootstrapServers: cluster.bootstrapServers, groupID: group, partitions: partitions, timeoutMilliseconds: 5000)) ?? [:]
        rate.record(Int(committed.values.reduce(0, +)))
        usleep(100_000)
    }
    return rate.eventsPerSecond
}

func runSyncBridge(topic: String, mode: String, processes: Int, simulator: String, tag: String) throws -> Measurement {
    let group = "bench-\(tag)-\(mode)-\(processes)"
    let config = try writeConfig(topic: topic, group: group, mode: mode, simulator: simulator)
    let children = try (0..<processes).map { index in
        try ChildProcess(
            ["run", "--config", config, "--log-level", "warning"], log: scratch.appendingPathComponent("\(group)-\(index).log").path,
            environment: ["BENCH_KEY": "bench"])
    }
    defer { children.forEach { $0.stop() } }
    let rate = measureCommits(topic: topic, group: group, timeout: 300)
    return Measurement(label: mode == "direct" ? "SyncBridge, direct" : "SyncBridge, partitioned", processes: processes, eventsPerSecond: rate)
}

/// A plain librdkafka consumer: subscribe, poll, count. No decoding, no commits.
func runRawLoop(topic: String, tag: String) -> Measurement {
    var error = [CChar](repeating: 0, count: 512)
    func reason() -> String { String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    let conf = rd_kafka_conf_new()
    for (name, value) in [
        "bootstrap.servers": cluster.bootstrapServers, "group.id": "bench-\(tag)-raw", "auto.offset.reset": "earliest",
        "enable.auto.commit": "false", "fetch.wait.max.ms": "50",
    ] {
        rd_kafka_conf_set(conf, name, value, &error, error.count)
    }
    guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &error, error.count) else { fatalError("raw consumer: \(reason())") }
    defer {
        rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
    }
    rd_kafka_poll_set_consumer(handle)
    let topics = rd_kafka_topic_partition_list_new(1)
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA)
    rd_kafka_subscribe(handle, topics)
    rd_kafka_topic_partition_list_destroy(topics)
    var consumed = 0
    var rate = SteadyRate()
    let deadline = Date().addingTimeInterval(120)
    while !rate.finished, Date() < deadline {
        guard let message = rd_kafka_consumer_poll(handle, 100) else { continue }
        if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
            consumed += 1
            // Sampled like the commits, not per message: reading the clock would cost more than the loop.
            if consumed % 1000 == 0 { rate.record(consumed) }
        }
        rd_kafka_message_destroy(message)
    }
    return Measurement(label: "raw librdkafka poll loop", processes: 1, eventsPerSecond: rate.eventsPerSecond)
}

// MARK: - Run

let (simulator, simulatorURL) = try startSimulator()
defer { simulator.stop() }
print("ThroughputBenchmark: \(eventCount) events of about 120 B on \(partitionCount) partitions, \(ruleCount) rules, embedded broker")
print("")
print("| matching | consumer | processes | events/s committed | ÷ raw loop |")
print("|---|---|---|---|---|")
for matching in [10, 100] {
    let tag = "m\(matching)"
    let topic = "bench.\(tag).data-updated"
    try produceWorkload(topic: topic, matchingPercent: matching)
    let raw = runRawLoop(topic: topic, tag: tag)
    var rows = [raw]
    rows.append(try runSyncBridge(topic: topic, mode: "direct", processes: 1, simulator: simulatorURL, tag: tag))
    for processes in 1...3 {
        rows.append(try runSyncBridge(topic: topic, mode: "partitioned", processes: processes, simulator: simulatorURL, tag: tag))
    }
    for row in rows {
        let ratio = raw.eventsPerSecond > 0 ? row.eventsPerSecond / raw.eventsPerSecond : 0
        print("| \(matching) % | \(row.label) | \(row.processes) | \(Int(row.eventsPerSecond.rounded())) | \(String(format: "%.2f", ratio)) |")
    }
}
try? FileManager.default.removeItem(at: scratch)
