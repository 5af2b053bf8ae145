import SchedulingLab
import Synchronization
import SyncBridgeCore

/// A seeded, deterministic stream of events plus the job durations Braze will answer with.
struct Workload {
    var name: String
    var summary: String
    var limits: TargetLimits
    var policy = CoalescePolicy.default
    var events: [WorkloadEvent]
    var jobSeconds: ClosedRange<Double>
    var seed: UInt64
    /// SyncBridge's p99 latency may be at most this multiple of the oracle's.
    var maxP99Ratio = 1.2

    static let target = "braze"

    var targetLimits: [String: TargetLimits] { [Self.target: limits] }

    func makeBraze() -> VirtualBraze {
        let lengths = JobLengths(seconds: jobSeconds, seed: seed)
        return VirtualBraze(limits: targetLimits) { key, _ in lengths.next(key) }
    }
}

/// The n-th job of an integration lasts equally long under every strategy, so runs are
/// compared job for job rather than depending on when each strategy happened to start it.
final class JobLengths: Sendable {
    let seconds: ClosedRange<Double>
    let seed: UInt64
    private let started = Mutex<[IntegrationKey: UInt64]>([:])

    init(seconds: ClosedRange<Double>, seed: UInt64) {
        self.seconds = seconds
        self.seed = seed
    }

    func next(_ key: IntegrationKey) -> Duration {
        let index = started.withLock { counts in
            defer { counts[key, default: 0] += 1 }
            return counts[key, default: 0]
        }
        var random = SplitMix64(seed: (seed ^ stableHash(key.integrationID)) &+ index &* 0x9E37_79B9)
        return .seconds(fractional: Double.random(in: seconds, using: &random))
    }
}

/// FNV-1a: `hashValue` is seeded per process, which would make runs differ.
func stableHash(_ text: String) -> UInt64 {
    text.utf8.reduce(0xCBF2_9CE4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01B3 }
}

func integrationKeys(_ count: Int) -> [IntegrationKey] {
    (0..<count).map { index in
        let digits = String(index)
        let id = "00000000-0000-4000-8000-" + String(repeating: "0", count: 12 - digits.count) + digits
        return IntegrationKey(target: Workload.target, integrationID: id)
    }
}

/// Builds an event list in time order over a few partitions of one topic.
struct EventStream {
    var random: SplitMix64
    var events: [WorkloadEvent] = []
    let partitions = (0..<4).map { PartitionID(topic: "warehouse.data-updated", partition: Int32($0)) }

    init(seed: UInt64) { random = SplitMix64(seed: seed) }

    mutating func seconds(_ range: ClosedRange<Double>) -> Duration { .seconds(fractional: Double.random(in: range, using: &random)) }

    mutating func add(at: Moment, _ integrations: [IntegrationKey]) {
        events.append(WorkloadEvent(at: at, partition: partitions.randomElement(using: &random)!, integrations: integrations))
    }

    /// Some events map to two integrations (a rule union), most to one.
    mutating func pick(from keys: [IntegrationKey], secondChance: Double = 0.2) -> [IntegrationKey] {
        let first = keys.randomElement(using: &random)!
        guard Double.random(in: 0..<1, using: &random) < secondChance else { return [first] }
        return Array(Set([first, keys.randomElement(using: &random)!])).sorted()
    }

    var sorted: [WorkloadEvent] { events.sorted { $0.at < $1.at } }
}

extension Workload {
    static let hour = Duration.seconds(3600)

    /// (a) A few integrations, an event every few seconds, short jobs.
    static func steadyTrickle(seed: UInt64 = 1) -> Workload {
        trickle(
            name: "steady trickle", summary: "4 integrations, an event every 1-5 s, jobs 20-60 s, 3 h",
            integrations: 4, gapSeconds: 1...5, hours: 3, jobSeconds: 20...60, seed: seed)
    }

    /// (b) Bursts of hundreds of events within 1-2 s every few minutes.
    static func bursty(seed: UInt64 = 2) -> Workload {
        let keys = integrationKeys(10)
        var stream = EventStream(seed: seed)
        var burstAt = Moment.origin
        while burstAt < .origin + hour * 3 {
            burstAt = burstAt + stream.seconds(60...240)
            let size = Int.random(in: 200...500, using: &stream.random)
            let spread = stream.seconds(1...2)
            for _ in 0..<size {
                let at = burstAt + spread.scaled(by: Double.random(in: 0..<1, using: &stream.random))
                stream.add(at: at, stream.pick(from: keys))
            }
        }
        return Workload(
            name: "bursty", summary: "10 integrations, bursts of 200-500 events in 1-2 s every 1-4 min, jobs 30-120 s, 3 h",
            limits: .braze, events: stream.sorted, jobSeconds: 30...120, seed: seed)
    }

    /// (c) Syncs far longer than the gaps between events.
    static func longJobs(seed: UInt64 = 3) -> Workload {
        trickle(
            name: "long jobs", summary: "3 integrations, an event every 2-6 s, jobs 5-30 min, 4 h",
            integrations: 3, gapSeconds: 2...6, hours: 4, jobSeconds: 300...1800, seed: seed)
    }

    /// One event at a time on a random integration, with random gaps.
    private static func trickle(
        name: String, summary: String, integrations: Int, gapSeconds: ClosedRange<Double>, hours: Int,
        jobSeconds: ClosedRange<Double>, seed: UInt64
    ) -> Workload {
        let keys = integrationKeys(integrations)
        var stream = EventStream(seed: seed)
        var now = Moment.origin
        while now < .origin + hour * hours {
            now = now + stream.seconds(gapSeconds)
            stream.add(at: now, stream.pick(from: keys))
        }
        return Workload(name: name, summary: summary, limits: .braze, events: stream.sorted, jobSeconds: jobSeconds, seed: seed)
    }

    /// (d) Many integrations sharing one 20/min trigger budget.
    static func manyIntegrations(seed: UInt64 = 4) -> Workload {
        let keys = integrationKeys(200)
        var stream = EventStream(seed: seed)
        let end = Moment.origin + hour * 3
        for key in keys {
            // Each integration sees a table load every 5-30 min, announced by 1-4 events within 20 s.
            var loadAt = Moment.origin + stream.seconds(0...1800)
            while loadAt < end {
                for _ in 0..<Int.random(in: 1...4, using: &stream.random) {
                    stream.add(at: loadAt + stream.seconds(0...20), [key])
                }
                loadAt = loadAt + stream.seconds(300...1800)
            }
        }
        return Workload(
            name: "200 integrations", summary: "200 integrations, a load every 5-30 min each (1-4 events), jobs 1-5 min, 20 calls/min, 3 h",
            limits: .braze, events: stream.sorted, jobSeconds: 60...300, seed: seed)
    }

    /// (e) Jobs of a few seconds under a steady trickle: how soon a poll sees each job end
    /// decides the latency, so the status budget is spent where it has room.
    static func shortJobs(seed: UInt64 = 5) -> Workload {
        var workload = trickle(
            name: "short jobs", summary: "10 integrations, an event every 3-8 s, jobs 2-8 s, quiet 2 s, max_delay 10 s, 2 h",
            integrations: 10, gapSeconds: 3...8, hours: 2, jobSeconds: 2...8, seed: seed)
        workload.policy = CoalescePolicy(quiet: .seconds(2), maxDelay: .seconds(10))
        workload.maxP99Ratio = 1.1
        return workload
    }

    /// The five workloads; `round` picks other seeds to check that a verdict is no accident of one.
    static func all(round: UInt64 = 0) -> [Workload] {
        [
            steadyTrickle(seed: 5 * round + 1), bursty(seed: 5 * round + 2), longJobs(seed: 5 * round + 3), manyIntegrations(seed: 5 * round + 4),
            shortJobs(seed: 5 * round + 5),
        ]
    }
}
