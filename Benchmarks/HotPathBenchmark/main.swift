// The consumer thread's per-event work without Kafka, on one thread in virtual time: the
// throughput benchmark's workload (100 rules, about 120-byte values, 32 partitions) through
// `RuleSet.evaluate`, batches of 50 into `Coordinator.eventsConsumed` (records in runs of 500
// per partition, as librdkafka hands them over), ticks whenever the coordinator's deadline has
// passed, and every trigger accepted and every status poll answered "finished" 1 ms of virtual
// time later, so coverage, the offset ledger and commits run as in the service. Nanoseconds per event, best of 5;
// steadier than the end-to-end rates, which share 2 cores with the broker and the simulator.
//
//   swift build -c release --product HotPathBenchmark && .build/release/HotPathBenchmark [events [matching-percent]]
import Foundation
import SyncBridgeCore

let eventCount = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 1_000_000
let ruleCount = 100
let partitions = 32
let topic = "bench.data-updated"
let ids = (0..<ruleCount).map { String(format: "7b000000-0000-4000-8000-%012d", $0) }

func rules() throws -> RuleSet {
    let lines = (0..<ruleCount).map {
        #"  - { name: r\#($0), when: { topic: "\#(topic)", json: { /table: T\#($0) } }, sync: ["\#(ids[$0])"] }"#
    }
    let text = """
        kafka: { brokers: embedded, group: bench, topics: ["\(topic)"] }
        targets: [{ name: braze, endpoint: "http://127.0.0.1:1", api_key_env: K, rate_limit: "1000000/1m", status_rate_limit: "1000000/1m" }]
        coalesce: { quiet: 100ms, max_delay: 500ms }
        rules:
        \(lines.joined(separator: "\n"))
        """
    return try ConfigLoader.load(text: text, file: "bench.yaml").rules
}

func values(matchingPercent: Int) -> [[UInt8]] {
    (0..<1000).map { index in
        let table = index % 100 < matchingPercent ? "T\(index % ruleCount)" : "U\(index % 997)"
        return Array(#"{"database":"PROD","schema":"ANALYTICS","table":"\#(table)","rows":\#(1000 + index),"status":"SUCCESS"}"#.utf8)
    }
}

/// One pass over `eventCount` events; returns nanoseconds per event and events covered. Without
/// `coordinated`, the events stop after the rules: the baseline that shows the coordinator's share.
func run(_ ruleSet: RuleSet, _ values: [[UInt8]], coordinated: Bool) -> (Double, Int) {
    let limit = RateLimit(count: 1_000_000, window: .seconds(60))
    var coordinator = Coordinator(settings: CoordinatorSettings(targets: ["braze": TargetLimits(triggers: limit, statuses: limit)]))
    var offsets = [Int64](repeating: 0, count: partitions)
    var batch: [ConsumedEvent] = []
    var plan = RuleSet.PlanCache()
    batch.reserveCapacity(50)
    var covered = 0
    var now = Moment.origin
    let clock = ContinuousClock()
    let start = clock.now
    var calls: [CoordinatorAction] = []
    func apply(_ actions: [CoordinatorAction]) {
        for action in actions {
            switch action {
            case .trigger, .pollStatus: calls.append(action)
            case .covered(_, let latencies): covered += latencies.count
            default: break
            }
        }
    }
    /// Answers the calls made before this batch: what the service's completions do meanwhile.
    func complete() {
        let answered = calls
        calls.removeAll(keepingCapacity: true)
        for call in answered {
            switch call {
            case .trigger(let key): apply(coordinator.triggerCompleted(key, result: .accepted, at: now))
            case .pollStatus(let key): apply(coordinator.statusCompleted(key, result: .finished(duration: .milliseconds(100)), at: now))
            default: break
            }
        }
    }
    // Interned once, as the consumer interns a topic once per run of its records.
    let partitionIDs = (0..<partitions).map { PartitionID(topic: topic, partition: Int32($0)) }
    for index in 0..<eventCount {
        let partition = (index / 500) % partitions
        let event = IncomingEvent(topic: topic, value: values[index % values.count])
        let match = ruleSet.evaluate(event, cache: &plan)
        guard coordinated else {
            covered += match.demands.isEmpty ? 0 : 1
            continue
        }
        batch.append(ConsumedEvent(EventRef(partition: partitionIDs[partition], offset: offsets[partition]), demands: match.demands))
        offsets[partition] += 1
        if batch.count == 50 {
            // 2 µs of virtual time per event: about the service's pace.
            now = now + .microseconds(100)
            complete()
            apply(coordinator.eventsConsumed(batch, at: now))
            batch.removeAll(keepingCapacity: true)
            if let deadline = coordinator.nextDeadline, deadline <= now { apply(coordinator.tick(at: now)) }
        }
    }
    for _ in 0..<4 where coordinated {
        now = now + .seconds(10)
        complete()
        apply(coordinator.tick(at: now))
    }
    let elapsed = clock.now - start
    let nanoseconds = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
    return (nanoseconds / Double(eventCount), covered)
}

let ruleSet = try rules()
print("| matching | work per event | ns per event (best of 5) | events matched or covered |")
print("|---|---|---|---|")
for matching in CommandLine.arguments.dropFirst(2).first.flatMap(Int.init).map({ [$0] }) ?? [10, 100] {
    let sample = values(matchingPercent: matching)
    for coordinated in [false, true] {
        var best = Double.infinity
        var covered = 0
        for _ in 0..<5 {
            let (nanoseconds, count) = run(ruleSet, sample, coordinated: coordinated)
            best = min(best, nanoseconds)
            covered = count
        }
        let work = coordinated ? "rules + coordinator (ledger, coalescing, triggers, coverage, commits)" : "rules only (`RuleSet.evaluate`)"
        print("| \(matching) % | \(work) | \(Int(best.rounded())) | \(covered) |")
    }
}
