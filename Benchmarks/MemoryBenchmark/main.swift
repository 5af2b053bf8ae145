// Peak memory of the coordinator's pending state: 1M uncommitted events across 10k
// integrations and 100 partitions, against a naive per-message ledger in the same run.
//
// Each variant runs in a fresh child process (this binary re-executed with `--variant`),
// so VmHWM, the kernel's peak resident set, belongs to that variant alone.
import Foundation
import SyncBridgeCore

let eventCount = 1_000_000
let integrationCount = 10_000
let partitionCount = 100
let topic = "warehouse.prod.data-updated"
let budgetMB = 150.0

/// Fields of /proc/self/status in MiB (VmRSS, VmHWM).
func procStatus(_ field: String) -> Double {
    guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return .nan }
    for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? .nan
        return kilobytes / 1024
    }
    return .nan
}

let integrationIDs = (0..<integrationCount).map { index in
    IntegrationKey(target: "braze", integrationID: String(format: "00000000-0000-4000-8000-%012d", index))
}
let policy = CoalescePolicy(quiet: .seconds(3600), maxDelay: .seconds(7200))

/// Interned once, as the consumer interns a topic once per run of its records.
let partitionIDs = (0..<partitionCount).map { PartitionID(topic: topic, partition: Int32($0)) }

/// Event i goes to partition i % 100 and integration i % 10k: every partition interleaves
/// many integrations, so no run-length shortcut applies and nothing is committable.
@inline(__always) func event(_ index: Int) -> (EventRef, IntegrationKey) {
    let partition = Int32(index % partitionCount)
    let offset = Int64(index / partitionCount)
    return (EventRef(partition: partitionIDs[Int(partition)], offset: offset), integrationIDs[index % integrationCount])
}

/// VmRSS while the variant still holds all its state.
nonisolated(unsafe) var retainedRSS = Double.nan

func runCoordinator() -> String {
    var coordinator = Coordinator(settings: CoordinatorSettings(targets: ["braze": .braze]))
    for index in 0..<eventCount {
        let (ref, key) = event(index)
        _ = coordinator.eventConsumed(ref, demands: [key: policy], at: Moment(.milliseconds(Int64(index / 1000))))
    }
    precondition(coordinator.uncommittedEvents == eventCount)
    retainedRSS = procStatus("VmRSS")
    return "uncommitted=\(coordinator.uncommittedEvents) runs=\(coordinator.ledgerRuns)"
}

/// What a straightforward implementation keeps: a count of outstanding work per message,
/// and each integration's waiting events with their consumption time.
func runNaive() -> String {
    var outstanding: [EventRef: Int] = [:]
    var pending: [IntegrationKey: [(EventRef, Moment)]] = [:]
    for index in 0..<eventCount {
        let (ref, key) = event(index)
        outstanding[ref] = 1
        pending[key, default: []].append((ref, Moment(.milliseconds(Int64(index / 1000)))))
    }
    precondition(outstanding.count == eventCount)
    retainedRSS = procStatus("VmRSS")
    return "messages=\(outstanding.count) integrations=\(pending.count)"
}

if let flag = CommandLine.arguments.firstIndex(of: "--variant"), flag + 1 < CommandLine.arguments.count {
    let before = procStatus("VmRSS")
    let start = ContinuousClock.now
    let detail = CommandLine.arguments[flag + 1] == "naive" ? runNaive() : runCoordinator()
    let seconds = (ContinuousClock.now - start).seconds
    // One tab-separated line for the parent: rss before, rss after, peak, seconds, detail.
    print([before, retainedRSS, procStatus("VmHWM"), seconds].map { String(format: "%.1f", $0) }.joined(separator: "\t") + "\t" + detail)
    exit(0)
}

func measure(_ variant: String) -> [String] {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
    child.arguments = ["--variant", variant]
    let output = Pipe()
    child.standardOutput = output
    do { try child.run() } catch { fatalError("cannot re-run this benchmark: \(error)") }
    let data = output.fileHandleForReading.readDataToEndOfFile()
    child.waitUntilExit()
    let line = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    return line.split(separator: "\t").map(String.init)
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}

print("memory benchmark: \(eventCount) uncommitted events, \(integrationCount) integrations, \(partitionCount) partitions")
let coordinator = measure("coordinator")
let naive = measure("naive")
func row(_ name: String, _ fields: [String]) -> String {
    let cells = fields + Array(repeating: "?", count: max(0, 5 - fields.count))
    return name.padding(toLength: 34, withPad: " ", startingAt: 0)
        + cells[0...3].map { $0.padding(toLength: 12, withPad: " ", startingAt: 0) }.joined() + cells[4]
}
print(row("variant (MiB)", ["RSS before", "RSS held", "peak (HWM)", "seconds", "detail"]).replacingOccurrences(of: "?", with: ""))
print(row("Coordinator (ledger runs)", coordinator))
print(row("naive [EventRef: Int] + arrays", naive))
if let peak = Double(coordinator[safe: 2]), let naivePeak = Double(naive[safe: 2]) {
    print(
        String(
            format: "coordinator peak %.1f MiB (budget %.0f MiB: %@); naive/coordinator = %.2fx",
            peak, budgetMB, peak < budgetMB ? "within" : "EXCEEDED", naivePeak / peak))
    if peak >= budgetMB { exit(1) }
}

extension Array where Element == String {
    subscript(safe index: Int) -> String { index < count ? self[index] : "" }
}
