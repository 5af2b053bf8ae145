#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// Usage: SchedulingBenchmark [--seed N]   (N selects another set of seeded workloads; default 0)
let arguments = CommandLine.arguments.dropFirst()
var round: UInt64 = 0
if let flag = arguments.firstIndex(of: "--seed") {
    guard flag + 1 < arguments.endIndex, let value = UInt64(arguments[flag + 1]) else {
        print("usage: SchedulingBenchmark [--seed N]")
        exit(2)
    }
    round = value
}

// Non-zero exit when SyncBridge misses a target, so `make bench` shows it.
exit(SchedulingBenchmark.runAll(Workload.all(round: round)) ? 0 : 1)
