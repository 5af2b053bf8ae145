import Foundation
import Kafka
import Logging
import SyncBridgeCore
import Synchronization

/// Backs each owned target's scheduling state with the compacted state topic, the way Kafka
/// Streams backs a state store with a changelog: it writes the state at least every second,
/// before every Braze call (so a `kill -9` cannot hide budget already spent) and inside a
/// revocation, and restores the latest record before the first call a new owner makes.
final class SchedulingStateStore: Sendable {
    let topic: String
    private let producer: KafkaProducer
    private let bootstrapServers: String
    private let readerProperties: [String: String]
    private let logger: Logger
    /// Snapshots are taken and enqueued under this lock, so the log's last record is the newest.
    private let ordering = Mutex<Void>(())
    /// Targets whose state this process writes: all of them in direct mode; in partitioned mode
    /// those whose requests partition it owns.
    private let owned = Mutex<Set<String>>([])
    /// False after a write was not acknowledged in time (the cluster is down): calls then stop
    /// waiting for their write-ahead, so Braze work never waits on Kafka, until a write succeeds.
    private let healthy = Atomic<Bool>(true)

    /// How long a call waits for its write-ahead record while the cluster answers.
    static let writeAheadWait = Duration.milliseconds(500)

    init(topic: String, bootstrapServers: String, properties: [String: String], logger: Logger) throws {
        self.topic = topic
        self.bootstrapServers = bootstrapServers
        self.logger = logger
        // The client settings (security, timeouts) without the group's: the reader joins no group.
        readerProperties = properties.filter { !SyncService.consumerOnlyProperties.contains($0.key) }
        var producerProperties = readerProperties
        producerProperties["linger.ms"] = producerProperties["linger.ms"] ?? "0"
        producerProperties["message.timeout.ms"] = producerProperties["message.timeout.ms"] ?? "30000"
        producer = try KafkaProducer(bootstrapServers: bootstrapServers, properties: producerProperties)
    }

    var ownedTargets: Set<String> { owned.withLock { $0 } }

    /// Reads the topic to its end and hands each target its latest record; a target without a
    /// usable one (or an unreadable topic) starts cautiously. Blocks: call it off the cooperative pool.
    func restore(_ targets: [String], into engine: SyncEngine) {
        guard !targets.isEmpty else { return }
        var latest: [String: [UInt8]?] = [:]
        do {
            // Only the latest record per target is kept: the topic is a changelog.
            try KafkaTopics.readToEnd(bootstrapServers: bootstrapServers, properties: readerProperties, topic: topic) { record in
                guard let key = record.key.map({ String(decoding: $0, as: UTF8.self) }), targets.contains(key) else { return }
                latest[key] = record.value
            }
        } catch {
            logger.warning("cannot read the state topic \(topic): \(error); starting cautiously (status before the first trigger)")
        }
        let schedules = targets.map { ($0, TargetSchedule.decode(latest[$0] ?? nil, target: $0)) }
        engine.input { coordinator, now in
            let clock = WallClock(now: now, epochNow: Date().timeIntervalSince1970)
            for (target, schedule) in schedules { coordinator.restore(schedule, target: target, clock: clock) }
            return []
        }
        owned.withLock { $0.formUnion(targets) }
        for (target, schedule) in schedules {
            if let schedule {
                logger.info(
                    "scheduling state restored (\(schedule.triggersSent.count) triggers in the window, \(schedule.integrations.filter { $0.job == .running }.count) jobs running)",
                    metadata: ["target": "\(target)"]
                )
            } else if latest[target] != nil {
                logger.warning(
                    "the state record is unreadable; starting cautiously (status before the first trigger)", metadata: ["target": "\(target)"])
            } else {
                logger.info(
                    "no scheduling state recorded yet; starting cautiously (status before the first trigger)", metadata: ["target": "\(target)"])
            }
        }
    }

    /// Stops writing `targets` (their partitions went to another member).
    func release(_ targets: [String]) {
        _ = owned.withLock { $0.subtract(targets) }
    }

    /// Writes the state of `targets` (all owned ones when nil) and returns whether every record
    /// was acknowledged within `wait` (nil: don't wait).
    @discardableResult
    func write(_ targets: [String]? = nil, engine: SyncEngine, wait: Duration?) async -> Bool {
        let pending = enqueue(targets, engine: engine)
        guard let wait, let pending else { return pending != nil }
        // Not a task group: it would wait for the delivery report even after the timeout won.
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let once = Mutex<CheckedContinuation<Bool, Never>?>(continuation)
            let finish: @Sendable (Bool) -> Void = { value in once.withLock { $0.take() }?.resume(returning: value) }
            Task { finish(await pending.value) }
            Task {
                try? await Task.sleep(for: wait)
                finish(false)
            }
        }
        if !outcome { markUnhealthy() }
        return outcome
    }

    /// The write-ahead before Braze calls: waits only while the cluster answers.
    func writeAhead(_ targets: [String], engine: SyncEngine) async {
        await write(targets, engine: engine, wait: healthy.load(ordering: .relaxed) ? Self.writeAheadWait : nil)
    }

    /// Blocking form for the consumer thread, inside a revocation.
    @discardableResult
    func writeNow(_ targets: [String], engine: SyncEngine, timeout: Duration) -> Bool {
        let done = DispatchSemaphore(value: 0)
        let outcome = Mutex(false)
        guard let pending = enqueue(targets, engine: engine) else { return false }
        Task {
            let delivered = await pending.value
            outcome.withLock { $0 = delivered }
            done.signal()
        }
        let inTime = done.wait(timeout: .now() + timeout.seconds) == .success
        return inTime && outcome.withLock { $0 }
    }

    func close() {
        producer.flush(timeoutMilliseconds: 2_000)
        producer.close()
    }

    /// Snapshots and enqueues one record per target; the task ends with whether all were delivered.
    private func enqueue(_ targets: [String]?, engine: SyncEngine) -> Task<Bool, Never>? {
        let names = targets.map { Set($0).intersection(ownedTargets) } ?? ownedTargets
        guard !names.isEmpty else { return nil }
        let (stream, continuation) = AsyncStream.makeStream(of: Bool.self)
        let expected = ordering.withLock { _ in
            let snapshots = engine.coordinator.withLock { coordinator in
                let clock = WallClock(now: engine.clock.now(), epochNow: Date().timeIntervalSince1970)
                return names.sorted().compactMap { coordinator.schedule(for: $0, clock: clock) }
            }
            for schedule in snapshots {
                producer.send(topic: topic, key: Array(schedule.target.utf8), value: schedule.encoded()) { error in
                    continuation.yield(error == nil)
                }
            }
            return snapshots.count
        }
        guard expected > 0 else { return nil }
        return Task {
            var delivered = 0
            var failed = false
            for await ok in stream {
                if ok { delivered += 1 } else { failed = true }
                if delivered + (failed ? 1 : 0) >= expected || failed { break }
            }
            continuation.finish()
            let success = !failed && delivered == expected
            if success { self.healthy.store(true, ordering: .relaxed) }
            return success
        }
    }

    private func markUnhealthy() {
        if healthy.exchange(false, ordering: .relaxed) {
            logger.warning(
                "the state topic \(topic) is not acknowledging writes; Braze calls go ahead without waiting for their state record until it does")
        }
    }
}
