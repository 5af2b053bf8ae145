// End-to-end events per second: `syncbridge run` in direct mode and in partitioned mode with
// 1, 2 and 3 processes, beside raw librdkafka loops (one record per poll with librdkafka's
// defaults, the same with the service's queued.min.messages, and batches of 1,000; the targets
// are against the first, the loop a new user writes), all in one run against the same
// embedded broker and topic (one consumer group each, reading from the start). SyncBridge's
// rate is events committed (consume, decode, rules, coordinator, ledger, Braze calls to the
// simulator, commits); the raw loops' is events consumed. Consumed is the rate between the moments
// 10 % and 90 % of the topic was consumed, so start-up (the group join) doesn't count; committed
// runs from the consumed 10 % mark to the committed 90 % mark, so the time commits trail
// consumption (coalescing, the job, the commit interval) counts against it. (The slope between
// the committed marks alone is meaningless: once consumption ends, commits catch up in steps.)
// That trail has its own column: the time from consuming 90 % to committing 90 %.
// Coalescing is short here (quiet 100 ms, at most 500 ms) and offsets are committed every 200 ms,
// so that trail is short beside a run of a few seconds; the scheduling benchmark measures coalescing.
// A dead-letter topic is configured, so matched records are kept as in production.
// The raw loops, the `KafkaConsumer` loop and direct mode run `--repeat` times each, interleaved,
// each as a new group reading the topic from the start; the table shows each one's median, since
// the embedded broker's pace differs from one run to the next by up to 3×.
//
//   swift build -c release --product syncbridge --product ThroughputBenchmark
//   .build/release/ThroughputBenchmark [--events N] [--partitions P] [--matching PERCENT] [--direct-only] [--repeat N]
import CRdKafka
import Foundation
import Kafka
import SyncBridgeCore
import Synchronization

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

let arguments = CommandLine.arguments
func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count, let value = Int(arguments[index + 1]) else { return fallback }
    return value
}
let eventCount = option("--events", 1_000_000)
let partitionCount = Int32(option("--partitions", 32))
/// For profiling one configuration: one matching share, and direct mode only.
let matchingShares = arguments.contains("--matching") ? [option("--matching", 10)] : [10, 100]
let directOnly = arguments.contains("--direct-only")
let repeats = max(1, option("--repeat", 3))
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
let deadLetterTopic = "bench.dead-letter"
try cluster.createTopic(deadLetterTopic, partitions: 1)

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

    /// User and system CPU seconds the process has used so far (Linux's /proc), or nil.
    var cpuSeconds: Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let end = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
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

func writeConfig(topic: String, group: String, mode: String, simulator: String, httpPort: Int) throws -> String {
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
          dead_letter_topic: "\(deadLetterTopic)"
          properties: { session.timeout.ms: "10000", heartbeat.interval.ms: "500", fetch.wait.max.ms: "50", auto.commit.interval.ms: "200" }
        targets:
          - name: braze
            endpoint: "\(simulator)"
            api_key_env: BENCH_KEY
            rate_limit: "1000000/1m"
            status_rate_limit: "1000000/1m"
        coalesce: { quiet: 100ms, max_delay: 500ms }
        http: { listen: "127.0.0.1:\(httpPort)" }
        rules:
        \(rules.joined(separator: "\n"))
        """
    let path = scratch.appendingPathComponent("\(group)-\(httpPort).yaml").path
    try text.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}

// MARK: - Measurements

struct Measurement {
    var label: String
    var processes: Int
    /// Events consumed per second (for SyncBridge: `syncbridge_events_consumed_total`).
    var consumedPerSecond: Double
    /// Events committed per second; nil for the raw loops, which commit nothing.
    var committedPerSecond: Double?
    /// Seconds from consuming 90 % of the events to committing 90 %.
    var commitTrail: Double?
    /// CPU seconds per million events of the SyncBridge processes, start-up included: steadier
    /// than the rates on a noisy machine, since it does not count waiting for a core.
    var cpuPerMillion: Double?
}

/// The rate between the moments progress first reached 10 % and 90 % of the events. Each moment
/// is interpolated between the samples around it: commits land in steps (every
/// `auto.commit.interval.ms`), and one step can cross both marks.
struct SteadyRate {
    private var previous: (Date, Int)?
    private(set) var low: Date?
    private(set) var high: Date?

    mutating func record(_ done: Int) {
        let now = Date()
        defer { previous = (now, done) }
        guard let (then, before) = previous, done > before else { return }
        func crossing(_ mark: Int) -> Date? {
            guard before < mark, done >= mark else { return nil }
            return then.addingTimeInterval(now.timeIntervalSince(then) * Double(mark - before) / Double(done - before))
        }
        if low == nil { low = crossing(Self.lowMark) }
        if high == nil { high = crossing(Self.highMark) }
    }

    static var lowMark: Int { eventCount / 10 }
    static var highMark: Int { eventCount * 9 / 10 }

    var finished: Bool { high != nil }

    var eventsPerSecond: Double {
        guard let low, let high, high > low else { return 0 }
        return Double(Self.highMark - Self.lowMark) / high.timeIntervalSince(low)
    }
}

/// Events consumed (scraped from each process's `/metrics`) and committed by `group` per second,
/// both sampled every 100 ms.
func measure(topic: String, group: String, metricsPorts: [Int], timeout: TimeInterval) -> (consumed: Double, committed: Double, trail: Double) {
    let reader = CommittedReader(group: group, topic: topic)
    var consumed = SteadyRate(), committed = SteadyRate()
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline, !committed.finished {
        consumed.record(metricsPorts.reduce(0) { $0 + consumedCount(port: $1) })
        committed.record(reader.total())
        usleep(100_000)
    }
    guard let start = consumed.low, let end = committed.high, let consumedHigh = consumed.high, end > start else {
        return (consumed.eventsPerSecond, 0, .infinity)
    }
    let committedRate = Double(SteadyRate.highMark - SteadyRate.lowMark) / end.timeIntervalSince(start)
    return (consumed.eventsPerSecond, committedRate, end.timeIntervalSince(consumedHigh))
}

/// Reads a group's committed offsets through one client kept for the whole measurement: a new
/// client per sample (connect, metadata, coordinator lookup) cost the embedded broker's single
/// thread enough to slow the group being measured.
final class CommittedReader {
    private let handle: OpaquePointer
    private let list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(group: String, topic: String) {
        var error = [CChar](repeating: 0, count: 512)
        let conf = rd_kafka_conf_new()
        for (name, value) in ["bootstrap.servers": cluster.bootstrapServers, "group.id": group, "enable.auto.commit": "false"] {
            rd_kafka_conf_set(conf, name, value, &error, error.count)
        }
        guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &error, error.count) else { fatalError("committed-offsets reader") }
        self.handle = handle
        list = rd_kafka_topic_partition_list_new(partitionCount)
        for partition in 0..<partitionCount { rd_kafka_topic_partition_list_add(list, topic, partition) }
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(list)
        rd_kafka_destroy(handle)
    }

    /// The sum of the committed offsets; 0 until the first answer.
    func total() -> Int {
        guard rd_kafka_committed(handle, list, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR else { return 0 }
        return (0..<Int(list.pointee.cnt)).reduce(0) { sum, index in sum + Int(max(0, list.pointee.elems[index].offset)) }
    }
}

/// `syncbridge_events_consumed_total` of the process serving `/metrics` on `port`; 0 before it answers.
func consumedCount(port: Int) -> Int {
    let done = DispatchSemaphore(value: 0)
    let body = Mutex<String?>(nil)
    URLSession.shared.dataTask(with: URL(string: "http://127.0.0.1:\(port)/metrics")!) { data, _, _ in
        body.withLock { $0 = data.map { String(decoding: $0, as: UTF8.self) } }
        done.signal()
    }.resume()
    guard done.wait(timeout: .now() + 2) == .success, let text = body.withLock({ $0 }) else { return 0 }
    return text.split(separator: "\n").filter { $0.hasPrefix("syncbridge_events_consumed_total") }
        .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0) { $0 + Int($1) }
}

func runSyncBridge(topic: String, mode: String, processes: Int, simulator: String, tag: String, run: Int = 0) throws -> Measurement {
    let group = "bench-\(tag)-\(mode)-\(processes)-\(run)"
    // A port per process of each run, so a slow exit of the previous run cannot hold it.
    let first = 19_000 + 100 * run + (tag == "m10" ? 0 : 50) + (mode == "direct" ? 0 : 10 * processes)
    let ports = (0..<processes).map { first + $0 }
    let children = try ports.enumerated().map { index, port in
        let config = try writeConfig(topic: topic, group: group, mode: mode, simulator: simulator, httpPort: port)
        return try ChildProcess(
            ["run", "--config", config, "--log-level", "warning"], log: scratch.appendingPathComponent("\(group)-\(index).log").path,
            environment: ["BENCH_KEY": "bench"])
    }
    defer { children.forEach { $0.stop() } }
    let rate = measure(topic: topic, group: group, metricsPorts: ports, timeout: 300)
    let cpu = children.reduce(0.0) { $0 + ($1.cpuSeconds ?? 0) }
    return Measurement(
        label: mode == "direct" ? "SyncBridge, direct" : "SyncBridge, partitioned", processes: processes, consumedPerSecond: rate.consumed,
        committedPerSecond: rate.committed, commitTrail: rate.trail, cpuPerMillion: cpu * 1_000_000 / Double(eventCount))
}

/// A plain librdkafka consumer: subscribe, poll, count. No decoding, no commits. With `batch`,
/// records come 1,000 at a time from `rd_kafka_consume_batch_queue` instead of one per
/// `rd_kafka_consumer_poll`: the stronger baseline, since SyncBridge reads in batches too.
/// With `serviceQueue`, it sets `queued.min.messages` as the service does (`KafkaSettings.defaultQueuedMinMessages`): with
/// librdkafka's default the poll loop mostly stalls on the fetch cap that setting lifts.
func runRawLoop(topic: String, tag: String, run: Int, batch: Bool = false, serviceQueue: Bool = false) -> Measurement {
    var error = [CChar](repeating: 0, count: 512)
    func reason() -> String { String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    let conf = rd_kafka_conf_new()
    var properties = [
        "bootstrap.servers": cluster.bootstrapServers,
        "group.id": "bench-\(tag)-raw\(batch ? "-batch" : "")\(serviceQueue ? "-queue" : "")-\(run)", "auto.offset.reset": "earliest",
        "enable.auto.commit": "false", "fetch.wait.max.ms": "50",
    ]
    if serviceQueue { properties["queued.min.messages"] = String(KafkaSettings.defaultQueuedMinMessages) }
    for (name, value) in properties {
        rd_kafka_conf_set(conf, name, value, &error, error.count)
    }
    guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &error, error.count) else { fatalError("raw consumer: \(reason())") }
    rd_kafka_poll_set_consumer(handle)
    let queue = rd_kafka_queue_get_consumer(handle)
    defer {
        rd_kafka_queue_destroy(queue)
        rd_kafka_consumer_close(handle)
        rd_kafka_destroy(handle)
    }
    let topics = rd_kafka_topic_partition_list_new(1)
    rd_kafka_topic_partition_list_add(topics, topic, RD_KAFKA_PARTITION_UA)
    rd_kafka_subscribe(handle, topics)
    rd_kafka_topic_partition_list_destroy(topics)
    var consumed = 0
    var rate = SteadyRate()
    let deadline = Date().addingTimeInterval(120)
    let capacity = batch ? 1000 : 1
    let messages = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: capacity)
    defer { messages.deallocate() }
    while !rate.finished, Date() < deadline {
        var count = 0
        if batch {
            count = max(0, rd_kafka_consume_batch_queue(queue, 100, messages, capacity))
        } else if let message = rd_kafka_consumer_poll(handle, 100) {
            messages[0] = message
            count = 1
        }
        for index in 0..<count {
            guard let message = messages[index] else { continue }
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                consumed += 1
                // Sampled like the commits, not per message: reading the clock would cost more than the loop.
                if consumed % 1000 == 0 { rate.record(consumed) }
            }
            rd_kafka_message_destroy(message)
        }
    }
    let label =
        batch ? "raw librdkafka batch loop" : serviceQueue ? "raw librdkafka poll loop, SyncBridge's queued.min.messages" : "raw librdkafka poll loop"
    return Measurement(label: label, processes: 1, consumedPerSecond: rate.eventsPerSecond, committedPerSecond: nil)
}

/// The same count through SyncBridge's `KafkaConsumer` (its defaults: stored offsets,
/// auto-commit, cooperative-sticky), with nothing done per record. It keeps librdkafka's default
/// `queued.min.messages`, which the service raises, so it shows the fetch cap that setting lifts.
func runWrapperLoop(topic: String, tag: String, run: Int) throws -> Measurement {
    let consumer = try KafkaConsumer(
        bootstrapServers: cluster.bootstrapServers, groupID: "bench-\(tag)-wrapper-\(run)", topics: [topic],
        properties: ["fetch.wait.max.ms": "50", "session.timeout.ms": "10000", "heartbeat.interval.ms": "500"])
    defer { consumer.close() }
    var consumed = 0
    var rate = SteadyRate()
    let deadline = Date().addingTimeInterval(120)
    var events: [ConsumerEvent] = []
    while !rate.finished, Date() < deadline {
        events.removeAll(keepingCapacity: true)
        consumer.poll(upTo: 50, timeoutMilliseconds: 100, into: &events)
        for case .message in events {
            consumed += 1
            if consumed % 1000 == 0 { rate.record(consumed) }
        }
    }
    return Measurement(label: "KafkaConsumer batch poll loop", processes: 1, consumedPerSecond: rate.eventsPerSecond, committedPerSecond: nil)
}

// MARK: - Run

let (simulator, simulatorURL) = try startSimulator()
defer { simulator.stop() }
print("ThroughputBenchmark: \(eventCount) events of about 120 B on \(partitionCount) partitions, \(ruleCount) rules, embedded broker")
print("")
print(
    "| matching | consumer | processes | events/s consumed | ÷ raw poll loop | events/s committed | ÷ raw poll loop | commits trail by | CPU s per 1M events |"
)
print("|---|---|---|---|---|---|---|---|---|")
/// The run with the median consumed rate (the upper middle one of an even count).
func median(_ runs: [Measurement]) -> Measurement {
    runs.sorted { $0.consumedPerSecond < $1.consumedPerSecond }[runs.count / 2]
}

var spreads: [String] = []
/// Targets for one direct process, consumed and committed, against the raw poll loop.
let targets = [10: 0.6, 100: 0.4]
var verdicts: [String] = []
for matching in matchingShares {
    let tag = "m\(matching)"
    let topic = "bench.\(tag).data-updated"
    try produceWorkload(topic: topic, matchingPercent: matching)
    var raws: [Measurement] = [], rawQueues: [Measurement] = [], rawBatches: [Measurement] = [], wrappers: [Measurement] = []
    var directs: [Measurement] = []
    for run in 0..<repeats {
        raws.append(runRawLoop(topic: topic, tag: tag, run: run))
        rawQueues.append(runRawLoop(topic: topic, tag: tag, run: run, serviceQueue: true))
        rawBatches.append(runRawLoop(topic: topic, tag: tag, run: run, batch: true))
        wrappers.append(try runWrapperLoop(topic: topic, tag: tag, run: run))
        directs.append(try runSyncBridge(topic: topic, mode: "direct", processes: 1, simulator: simulatorURL, tag: tag, run: run))
    }
    let raw = median(raws)
    let rawQueue = median(rawQueues)
    let rawBatch = median(rawBatches)
    var rows = [raw, rawQueue, rawBatch, median(wrappers), median(directs)]
    for processes in 1...3 where !directOnly {
        rows.append(try runSyncBridge(topic: topic, mode: "partitioned", processes: processes, simulator: simulatorURL, tag: tag))
    }
    func ratio(_ value: Double) -> String { String(format: "%.2f", raw.consumedPerSecond > 0 ? value / raw.consumedPerSecond : 0) }
    for row in rows {
        let committed =
            row.committedPerSecond.map { "\(Int($0.rounded())) | \(ratio($0)) | \(String(format: "%.2f s", row.commitTrail ?? .infinity))" }
            ?? "– | – | –"
        let cpu = row.cpuPerMillion.map { String(format: "%.2f", $0) } ?? "–"
        print(
            "| \(matching) % | \(row.label) | \(row.processes) | \(Int(row.consumedPerSecond.rounded())) | \(ratio(row.consumedPerSecond)) | \(committed) | \(cpu) |"
        )
    }
    if let target = targets[matching] {
        let direct = median(directs)
        let consumed = direct.consumedPerSecond / max(1, raw.consumedPerSecond)
        let committed = (direct.committedPerSecond ?? 0) / max(1, raw.consumedPerSecond)
        let met = consumed >= target && committed >= target
        let againstBatch = direct.consumedPerSecond / max(1, rawBatch.consumedPerSecond)
        let againstQueue = direct.consumedPerSecond / max(1, rawQueue.consumedPerSecond)
        verdicts.append(
            "\(matching) % matching: direct consumes \(String(format: "%.2f", consumed))× and commits \(String(format: "%.2f", committed))× the raw poll loop; target ≥ \(target)×: \(met ? "met" : "MISSED") (consumes \(String(format: "%.2f", againstQueue))× the poll loop with SyncBridge's queued.min.messages, \(String(format: "%.2f", againstBatch))× the raw batch loop)"
        )
    }
    func list(_ runs: [Measurement]) -> String { runs.map { String(Int($0.consumedPerSecond.rounded())) }.joined(separator: ", ") }
    spreads.append(
        "\(matching) %: raw poll \(list(raws)); raw poll with SyncBridge's queue \(list(rawQueues)); raw batch \(list(rawBatches)); KafkaConsumer \(list(wrappers)); direct \(list(directs)) events/s consumed; direct's CPU \(directs.map { String(format: "%.2f", $0.cpuPerMillion ?? 0) }.joined(separator: ", ")) s per 1M events"
    )
}
print("")
print("Each run, in order (the table shows the medians):")
for line in spreads { print("  " + line) }
print("")
for line in verdicts { print(line) }
try? FileManager.default.removeItem(at: scratch)
// `exit` skips the top-level defers, so the simulator is stopped here.
simulator.stop()
if verdicts.contains(where: { $0.contains(": MISSED") }) { exit(1) }
