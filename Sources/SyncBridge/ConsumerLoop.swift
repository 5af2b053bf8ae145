import Foundation
import Kafka
import Logging
import SyncBridgeCore
import Synchronization

/// The thread that owns the Kafka consumer: polls, maps each record through the rules
/// into the coordinator, applies rebalances and commits, and drives the coordinator's
/// deadlines. Blocking librdkafka calls stay off Swift's cooperative pool.
final class ConsumerLoop: Sendable {
    enum Phase: Int, AtomicRepresentable { case running, draining, stopped }

    private let consumer: KafkaConsumer
    private let engine: SyncEngine
    private let phase = Atomic<Phase>(.running)
    private let assignment = Mutex<Set<TopicPartition>>([])
    private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let done = Atomic<Bool>(false)

    init(consumer: KafkaConsumer, engine: SyncEngine) {
        self.consumer = consumer
        self.engine = engine
    }

    var isAssigned: Bool { !assignment.withLock { $0.isEmpty } }

    func start() {
        let thread = Thread { [self] in
            run()
            done.store(true, ordering: .sequentiallyConsistent)
            finished.withLock { $0?.resume(); $0 = nil }
        }
        thread.name = "syncbridge-consumer"
        thread.start()
    }

    /// Stops fetching new records; the loop keeps serving commits and rebalances until `stop`.
    func drain() { phase.store(.draining, ordering: .sequentiallyConsistent) }

    func stop() async {
        phase.store(.stopped, ordering: .sequentiallyConsistent)
        await withCheckedContinuation { continuation in
            let alreadyDone = finished.withLock { slot -> Bool in
                if done.load(ordering: .sequentiallyConsistent) { return true }
                slot = continuation
                return false
            }
            if alreadyDone { continuation.resume() }
        }
    }

    private func run() {
        var pausedForDrain = false
        var lastGauges = ContinuousClock.now
        while phase.load(ordering: .sequentiallyConsistent) != .stopped {
            if phase.load(ordering: .sequentiallyConsistent) == .draining, !pausedForDrain {
                try? consumer.pause(Array(assignment.withLock { $0 }))
                pausedForDrain = true
            }
            // Up to a batch of records per deadline check keeps ticks timely under load.
            var budget = 500
            var wait: Int32 = 50
            while budget > 0, let event = consumer.poll(timeoutMilliseconds: wait) {
                handle(event, fetching: !pausedForDrain)
                budget -= 1
                wait = 0
            }
            engine.tickIfDue()
            commitPending()
            if ContinuousClock.now - lastGauges > .seconds(1) {
                lastGauges = ContinuousClock.now
                updateGauges()
            }
        }
        commitPending()
        consumer.close()
    }

    private func handle(_ event: ConsumerEvent, fetching: Bool) {
        switch event {
        case .message(let message):
            process(message)
        case .assigned(let partitions):
            assignment.withLock { $0.formUnion(partitions) }
            engine.logger.info("assigned \(partitions.map(\.description).sorted().joined(separator: ", "))")
            if !fetching { try? consumer.pause(partitions) }
        case .revoked(let partitions):
            assignment.withLock { $0.subtract(partitions) }
            let ids = Set(partitions.map { PartitionID(topic: $0.topic, partition: $0.partition) })
            engine.logger.info("revoked \(partitions.map(\.description).sorted().joined(separator: ", "))")
            engine.forgetCommits(for: ids)
            for id in ids { engine.payloads.drop(id) }
            engine.input { $0.partitionsRevoked(ids, at: $1) }
        case .error(let message):
            engine.logger.warning("kafka: \(message)")
        }
    }

    private func process(_ message: KafkaMessage) {
        let metrics = engine.metrics
        metrics.consumed(topic: message.topic)
        let incoming = IncomingEvent(
            topic: message.topic, key: message.key,
            headers: message.headers.map { ($0.name, $0.value) }, value: message.value
        )
        let match = engine.rules.withLock { $0 }.evaluate(incoming)
        if let reason = match.invalidValue { metrics.invalid(reason) }
        for rule in match.matchedRules { metrics.matched(rule: rule) }
        for problem in match.problems {
            metrics.invalid(problem.reason)
            engine.logger.warning("\(message.topic)[\(message.partition)]@\(message.offset): rule '\(problem.rule)': \(problem.detail); dead-lettered (\(problem.reason.rawValue))")
        }
        if match.matchedRules.isEmpty { metrics.unmatched() }
        let ref = EventRef(topic: message.topic, partition: message.partition, offset: message.offset)
        if !match.demands.isEmpty || !match.problems.isEmpty { engine.payloads.keep(message, at: ref.partition) }
        engine.observer?.consumed(ref, integrations: Array(match.demands.keys), at: Date())
        let reason = match.problems.first?.reason.rawValue
        engine.input { $0.eventConsumed(ref, demands: match.demands, deadLetterReason: reason, at: $1) }
    }

    private func commitPending() {
        let offsets = engine.takeCommits()
        guard !offsets.isEmpty else { return }
        let owned = assignment.withLock { $0 }
        let kafkaOffsets = Dictionary(uniqueKeysWithValues: offsets.compactMap { partition, offset -> (TopicPartition, Int64)? in
            let topicPartition = TopicPartition(topic: partition.topic, partition: partition.partition)
            return owned.contains(topicPartition) ? (topicPartition, offset) : nil
        })
        guard !kafkaOffsets.isEmpty else { return }
        do {
            try consumer.commit(kafkaOffsets)
            for (partition, offset) in offsets { engine.payloads.committed(partition, nextOffset: offset) }
            engine.observer?.committed(offsets)
        } catch {
            // The covered offsets are re-offered with the next advance; a lost commit only means redelivery.
            engine.logger.warning("commit failed: \(error); will retry with the next commit")
            engine.perform([.commit(offsets)])
        }
    }

    private func updateGauges() {
        let (uncommitted, pending) = engine.coordinator.withLock { coordinator in
            (coordinator.uncommittedEvents, Dictionary(coordinator.settings.targets.keys.map { ($0, coordinator.pendingIntegrations(target: $0)) }, uniquingKeysWith: { a, _ in a }))
        }
        engine.metrics.uncommitted(uncommitted)
        for (target, count) in pending { engine.metrics.pendingIntegrations(target: target, count) }
        for (partition, lag) in consumer.lag() { engine.metrics.lag(topic: partition.topic, partition: partition.partition, lag) }
    }
}
