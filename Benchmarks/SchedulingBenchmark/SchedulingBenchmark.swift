import SchedulingLab
import SyncBridgeCore

/// The scheduling benchmark compares SyncBridge's `Coordinator` with three baselines (a
/// naive forwarder, debounce-only coalescing, and an oracle that knows when each job ends)
/// on seeded workloads driven in virtual time against a `VirtualBraze`, prints one table per
/// workload (calls, wasted 429s, busiest rate window, uncovered events, latency, ratios to
/// the oracle, wall time) and a verdict on SyncBridge's targets: every event covered and the
/// rate limit never exceeded, at most 1% of calls wasted on 429 in progress, at most 1.1× the
/// oracle's calls and at most 1.2× its p99 latency (1.1× on short jobs). It reports failure when a target is missed.
struct SchedulingBenchmark {
    enum Strategy: String, CaseIterable {
        case naive, debounceOnly = "debounce-only", oracle, syncBridge = "SyncBridge"
    }

    struct Row {
        var strategy: Strategy
        var report: HarnessReport
        var wallMilliseconds: Double
        var p50: Duration?
        var p99: Duration?

        init(strategy: Strategy, report: HarnessReport, wallMilliseconds: Double) {
            self.strategy = strategy
            self.report = report
            self.wallMilliseconds = wallMilliseconds
            let sorted = report.latencies.sorted()
            p50 = Self.percentile(0.5, of: sorted, never: report.uncovered)
            p99 = Self.percentile(0.99, of: sorted, never: report.uncovered)
        }

        /// An uncovered event counts as infinitely late: nil when the rank falls among them,
        /// so that a strategy cannot look fast by leaving its slow events uncovered.
        static func percentile(_ p: Double, of sorted: [Duration], never: Int) -> Duration? {
            let total = sorted.count + never
            guard total > 0 else { return .zero }
            let rank = max(0, Int((Double(total) * p).rounded(.up)) - 1)
            return rank < sorted.count ? sorted[rank] : nil
        }
    }

    struct Target {
        var name: String
        var met: Bool
        var detail: String
    }

    static let maxWastedShare = 0.01
    static let maxCallRatio = 1.1

    /// Runs every workload and prints its table and verdict; true when every target is met.
    static func runAll(_ workloads: [Workload]) -> Bool {
        var allMet = true
        for workload in workloads {
            let rows = Strategy.allCases.map { run($0, on: workload) }
            printTable(workload, rows)
            let targets = judge(workload, rows)
            let met = targets.allSatisfy(\.met)
            allMet = allMet && met
            print("verdict for SyncBridge: \(met ? "PASS" : "FAIL")")
            for target in targets { print("  [\(target.met ? "ok" : "MISSED")] \(target.name): \(target.detail)") }
            print()
        }
        print(allMet ? "all targets met" : "some targets missed")
        return allMet
    }

    static func run(_ strategy: Strategy, on workload: Workload) -> Row {
        let braze = workload.makeBraze()
        let harness = Harness(braze: braze, policy: workload.policy)
        let start = ContinuousClock.now
        let report: HarnessReport
        switch strategy {
        case .naive:
            var scheduler = NaiveScheduler()
            report = harness.run(&scheduler, events: workload.events)
        case .debounceOnly:
            var scheduler = CoalescingScheduler.debounceOnly(limits: workload.targetLimits)
            report = harness.run(&scheduler, events: workload.events)
        case .oracle:
            var scheduler = CoalescingScheduler.oracle(limits: workload.targetLimits, braze: braze)
            report = harness.run(&scheduler, events: workload.events)
        case .syncBridge:
            var scheduler = Coordinator(settings: CoordinatorSettings(targets: workload.targetLimits))
            report = harness.run(&scheduler, events: workload.events)
        }
        let elapsed = ContinuousClock.now - start
        return Row(strategy: strategy, report: report, wallMilliseconds: elapsed.seconds * 1000)
    }

    static func judge(_ workload: Workload, _ rows: [Row]) -> [Target] {
        let mineRow = rows.first { $0.strategy == .syncBridge }!, oracleRow = rows.first { $0.strategy == .oracle }!
        let mine = mineRow.report, oracle = oracleRow.report
        let limit = workload.limits.triggers.count, statusLimit = workload.limits.statuses.count
        let wastedShare = Double(mine.wastedCalls) / Double(max(mine.triggerCalls, 1))
        let callRatio = ratio(mine.triggerCalls, oracle.triggerCalls)
        let p99Ratio = ratio(mineRow.p99, oracleRow.p99)
        return [
            Target(
                name: "every event covered, no early commit", met: mine.uncovered == 0 && mine.prematureCommits.isEmpty,
                detail: "\(mine.uncovered) uncovered, \(mine.prematureCommits.count) premature commits"),
            Target(
                name: "rate limits never exceeded", met: mine.busiestWindow <= limit && mine.busiestStatusWindow <= statusLimit,
                detail: "busiest window \(mine.busiestWindow)/\(limit) triggers, \(mine.busiestStatusWindow)/\(statusLimit) status"),
            Target(
                name: "wasted 429s <= 1% of calls", met: wastedShare <= maxWastedShare,
                detail: "\(mine.wastedCalls) of \(mine.triggerCalls) (\(fixed(wastedShare * 100, 2))%)"),
            Target(
                name: "calls <= 1.1x oracle", met: callRatio <= maxCallRatio,
                detail: "\(mine.triggerCalls) vs \(oracle.triggerCalls) (\(fixed(callRatio, 3))x)"),
            Target(
                name: "p99 latency <= \(fixed(workload.maxP99Ratio, 1))x oracle", met: p99Ratio <= workload.maxP99Ratio,
                detail: "\(seconds(mineRow.p99)) vs \(seconds(oracleRow.p99)) (\(fixed(p99Ratio, 3))x)"),
        ]
    }

    static func printTable(_ workload: Workload, _ rows: [Row]) {
        let oracle = rows.first { $0.strategy == .oracle }!
        let pairs = workload.events.reduce(0) { $0 + $1.integrations.count }
        print("== \(workload.name): \(workload.summary)")
        print(
            "   \(workload.events.count) events, \(pairs) event-integration pairs, coalesce quiet \(seconds(workload.policy.quiet)) max_delay \(seconds(workload.policy.maxDelay))"
        )
        let header = [
            "strategy", "calls", "wasted 429", "max/window", "uncovered", "p50", "p99", "status calls", "status/trigger", "max status/window",
            "calls/oracle", "p99/oracle", "wall ms",
        ]
        let cells = rows.map { row -> [String] in
            let report = row.report
            return [
                row.strategy.rawValue,
                "\(report.triggerCalls)",
                "\(report.wastedCalls)",
                "\(report.busiestWindow)/\(workload.limits.triggers.count)",
                "\(report.uncovered)",
                seconds(row.p50),
                seconds(row.p99),
                "\(report.statusCalls)",
                fixed(Double(report.statusCalls) / Double(max(report.triggerCalls - report.wastedCalls, 1)), 2),
                "\(report.busiestStatusWindow)/\(workload.limits.statuses.count)",
                fixed(ratio(report.triggerCalls, oracle.report.triggerCalls), 3) + "x",
                fixed(ratio(row.p99, oracle.p99), 3) + "x",
                fixed(row.wallMilliseconds, 1),
            ]
        }
        let widths = header.indices.map { column in ([header] + cells).map { $0[column].count }.max()! }
        func line(_ values: [String]) -> String {
            values.indices.map { column in
                let padding = String(repeating: " ", count: widths[column] - values[column].count)
                // Names read left-aligned, numbers right-aligned.
                return column == 0 ? values[column] + padding : padding + values[column]
            }.joined(separator: "  ")
        }
        print(line(header))
        print(String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)))
        for row in cells { print(line(row)) }
    }

    static func ratio(_ value: Int, _ reference: Int) -> Double { ratio(Double(value), Double(reference)) }

    static func ratio(_ value: Double, _ reference: Double) -> Double {
        if value == reference { return 1 }
        return reference > 0 ? value / reference : .infinity
    }

    /// nil (some events never covered) compares as infinitely late.
    static func ratio(_ value: Duration?, _ reference: Duration?) -> Double {
        ratio(value?.seconds ?? .infinity, reference?.seconds ?? .infinity)
    }

    static func seconds(_ duration: Duration?) -> String { duration.map { fixed($0.seconds, 1) + "s" } ?? "never" }

    /// Fixed-point formatting without Foundation.
    static func fixed(_ value: Double, _ digits: Int) -> String {
        guard value.isFinite else { return "inf" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int64((abs(value) * scale).rounded())
        let whole = scaled / Int64(scale), fraction = String(scaled % Int64(scale))
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        return sign + String(whole) + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }
}
