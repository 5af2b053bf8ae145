#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// Non-zero exit when SyncBridge misses a target, so `make bench` shows it.
exit(SchedulingBenchmark.runAll(Workload.all) ? 0 : 1)
