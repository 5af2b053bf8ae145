import Foundation
import Kafka
import Logging
import SyncBridgeCore
import Synchronization

/// The thread that owns the Kafka consumer: polls, maps each record through the rules
/// into the coordinator, and applies rebalances and commits. Blocking librdkafka calls stay
/// off Swift's cooperative pool, and the coordinator's deadlines fire from `DeadlineTimer`, so
/// a stalled cluster delays no Braze call.
final class ConsumerLoop: Sendable {
    enum Phase: Int, AtomicRepresentable { case running, draining, stopped }

    /// What a record means: an event the rules map (direct mode, stage one), or a request record
    /// another member's stage one forwarded (stage two).
    enum Records: Sendable {
        /// Source events; records of `skipping` (SyncBridge's own internal topics, which a broad
        /// `^pattern` can pick up) are committed without being matched.
        case events(skipping: Set<String>)
        case requests(RequestCodec)
    }

    /// Called on the consumer thread around ownership changes, before anything is fetched under a
    /// new assignment and while revoked partitions are still owned (fleet mode's state handover).
    struct OwnershipHooks: Sendable {
        var assigned: @Sendable ([TopicPartition]) -> Void = { _ in }
        var revoking: @Sendable ([TopicPartition]) -> Void = { _ in }
        /// After a revocation (including partitions lost without one).
        var revoked: @Sendable ([TopicPartition]) -> Void = { _ in }
    }

    private let consumer: KafkaConsumer
    private let engine: SyncEngine
    private let phase = Atomic<Phase>(.running)
    private let assignment = Mutex<Set<TopicPartition>>([])
    private let finished = Mutex<CheckedContinuation<Void, Never>?>(nil)
    private let done = Atomic<Bool>(false)
    /// Backpressure: above `highWater` uncommitted events the busiest partitions are paused
    /// (polling goes on, so heartbeats, rebalances and max.poll.interval.ms stay healthy);
    /// below `lowWater` they are resumed.
    private let highWater: Int
    private let lowWater: Int
    /// Partitions paused for backpressure; touched only by the consumer thread.
    private let throttled = Mutex<Set<TopicPartition>>([])
    private let records: Records
    /// The topics `records` skips, if any.
    private let skippedTopics: Set<String>
    private let hooks: OwnershipHooks
    private let keepsPayloads: Bool

    init(
        consumer: KafkaConsumer, engine: SyncEngine, maxUncommitted: Int = KafkaSettings.defaultMaxUncommitted,
        records: Records = .events(skipping: []), hooks: OwnershipHooks = OwnershipHooks()
    ) {
        self.consumer = consumer
        self.engine = engine
        self.records = records
        if case .events(let skipping) = records { skippedTopics = skipping } else { skippedTopics = [] }
        self.hooks = hooks
        keepsPayloads = engine.keepsPayloads
        highWater = maxUncommitted
        lowWater = maxUncommitted * 4 / 5
        // On revocation, hand over state and commit what is covered while the partitions are still
        // ours. Only theirs: a commit taken here for a partition that stays would be lost if that
        // last-chance commit failed, and with no later event on it the partition would stay behind.
        // Weak: a service that never ran can be released before its consumer closes, and the
        // close still revokes (an unowned reference aborted the process there).
        consumer.storeBeforeRevoke { [weak self] partitions in
            hooks.revoking(partitions)
            return self?.takeOwnedCommits(of: Set(partitions.map(PartitionID.init))).1 ?? [:]
        }
    }

    /// Partitions currently paused for backpressure.
    var throttledPartitions: Set<TopicPartition> { throttled.withLock { $0 } }

    var isAssigned: Bool { !assignment.withLock { $0.isEmpty } }

    func start() {
        let thread = Thread { [self] in
            run()
            done.store(true, ordering: .sequentiallyConsistent)
            finished.withLock {
                $0?.resume(); $0 = nil
            }
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
        var events: [ConsumerEvent] = []
        events.reserveCapacity(Self.fetchBatch)
        // The version is read before the rules it stands for, so a reload between the two reads
        // leaves the batch a version behind and the next record refreshes it (see `processEvent`).
        let version = engine.rulesVersion.load(ordering: .acquiring)
        var batch = Batch(rules: engine.rules.withLock { $0 })
        batch.rulesVersion = version
        while phase.load(ordering: .sequentiallyConsistent) != .stopped {
            if phase.load(ordering: .sequentiallyConsistent) == .draining, !pausedForDrain {
                try? consumer.pause(Array(assignment.withLock { $0 }))
                pausedForDrain = true
            }
            // Up to 500 records between commits and backpressure checks, fetched 50 at a time; each
            // 50 go to the coordinator together (one lock, one clock read), after what came before them.
            var budget = 500
            var wait: Int32 = 50
            while budget > 0 {
                events.removeAll(keepingCapacity: true)
                consumer.poll(upTo: min(Self.fetchBatch, budget), timeoutMilliseconds: wait, into: &events)
                if events.isEmpty { break }
                budget -= events.count
                events.moveElements(events.indices, leaving: { .error("") }) { handle($0, into: &batch, fetching: !pausedForDrain) }
                wait = 0
                // Over the bound: end early so backpressure applies within a fetch batch.
                let uncommitted = flush(&batch) ?? engine.coordinator.withLock { $0.uncommittedEvents }
                if uncommitted > highWater { break }
            }
            commitPending()
            if !pausedForDrain { applyBackpressure() }
            if ContinuousClock.now - lastGauges > .seconds(1) {
                lastGauges = ContinuousClock.now
                updateGauges()
            }
        }
        commitPending()
        consumer.close()
    }

    /// Records fetched from librdkafka in one call, and handed to the coordinator together.
    static let fetchBatch = 50

    /// Records consumed since the last hand-over to the coordinator, and their counts for the
    /// metrics, which are added once per batch rather than looked up per record.
    private struct Batch {
        /// The rules as of `rulesVersion`; refreshed when a reload bumps it, so every record
        /// consumed after a reload returns is matched by the new rules.
        var rules: RuleSet
        var rulesVersion = 0
        /// The rules' plan for the last topic; the last topic interned, and whether it is one of `skipping`.
        var plan = RuleSet.PlanCache()
        var lastTopic: (name: String, interned: InternedTopic, skip: Bool)?
        var events: [ConsumedEvent] = []
        /// Stage two: the request records among `events`, whose spans are set from their
        /// consumed times on the coordinator's clock when the batch is handed over.
        var requests: [(position: Int, record: RequestRecord)] = []
        /// Records to keep for dead letters, stored before the coordinator sees the batch.
        var kept: [KafkaMessage] = []
        /// Per topic, in runs: records come in runs per topic, so this beats hashing each record's topic.
        var consumed: [(topic: InternedTopic, count: Int)] = []
        /// Matches per rule, by position in `rules` (no hashing per event), and the positions with a count.
        var matchesByRule: [Int] = []
        var countedRules: [Int] = []
        var unmatched = 0

        init(rules: RuleSet) {
            self.rules = rules
            matchesByRule = Array(repeating: 0, count: rules.rules.count)
        }

        /// The record's position, and whether its topic is one of `skipping`: the topic is
        /// interned and hashed once per run of records on one topic, not once per record.
        mutating func position(of message: KafkaMessage, skipping: Set<String>) -> (EventRef, skip: Bool) {
            if lastTopic?.name != message.topic {
                lastTopic = (message.topic, InternedTopic(message.topic), skipping.contains(message.topic))
            }
            let partition = PartitionID(topic: lastTopic!.interned, partition: message.partition)
            return (EventRef(partition: partition, offset: message.offset), lastTopic!.skip)
        }

        mutating func countMatches(_ indices: [Int]) {
            for index in indices {
                if matchesByRule[index] == 0 { countedRules.append(index) }
                matchesByRule[index] += 1
            }
        }

        /// Adds the matches to the metrics and clears them (before `rules` changes, which renumbers them).
        mutating func reportMatches(to metrics: ServiceMetrics) {
            for index in countedRules {
                metrics.matched(rule: rules.rules[index].name, count: matchesByRule[index])
                matchesByRule[index] = 0
            }
            countedRules.removeAll(keepingCapacity: true)
        }

        mutating func refreshRules(_ newRules: RuleSet, version: Int, metrics: ServiceMetrics) {
            reportMatches(to: metrics)
            rules = newRules
            rulesVersion = version
            plan = RuleSet.PlanCache()
            matchesByRule = Array(repeating: 0, count: newRules.rules.count)
        }
    }

    /// Returns the uncommitted events after the hand-over, read under the same lock; nil when no
    /// records were handed over.
    @discardableResult
    private func flush(_ batch: inout Batch) -> Int? {
        engine.payloads.keep(&batch.kept)
        var uncommitted: Int?
        if !batch.events.isEmpty {
            // Handed over in place, so the batch's buffers are reused rather than copied.
            engine.input { coordinator, now in
                if !batch.requests.isEmpty {
                    let wall = WallClock(now: now, epochNow: Date().timeIntervalSince1970)
                    for request in batch.requests { batch.events[request.position].span = request.record.span(on: wall) }
                }
                let actions = coordinator.eventsConsumed(batch.events, at: now)
                uncommitted = coordinator.uncommittedEvents
                return actions
            }
            batch.events.removeAll(keepingCapacity: true)
            batch.requests.removeAll(keepingCapacity: true)
        }
        let metrics = engine.metrics
        for run in batch.consumed { metrics.consumed(topic: run.topic.name, count: run.count) }
        batch.reportMatches(to: metrics)
        if batch.unmatched > 0 { metrics.unmatched(count: batch.unmatched) }
        batch.consumed.removeAll(keepingCapacity: true)
        batch.unmatched = 0
        return uncommitted
    }

    /// Records join `batch`; anything else is handled after the records before it reach the coordinator.
    private func handle(_ event: consuming ConsumerEvent, into batch: inout Batch, fetching: Bool) {
        switch consume event {
        case .message(let message): process(message, into: &batch)
        case let other:
            flush(&batch)
            handleNonRecord(other, fetching: fetching)
        }
    }

    private func handleNonRecord(_ event: ConsumerEvent, fetching: Bool) {
        switch event {
        case .message:
            break  // joins a batch in `handle`
        case .assigned(let partitions):
            hooks.assigned(partitions)
            assignment.withLock { $0.formUnion(partitions) }
            engine.logger.info("assigned partitions", metadata: ["partitions": "\(partitions.map(\.description).sorted().joined(separator: ", "))"])
            if !fetching { try? consumer.pause(partitions) }
        case .revoked(let partitions):
            assignment.withLock { $0.subtract(partitions) }
            throttled.withLock { $0.subtract(partitions) }
            let ids = Set(partitions.map(PartitionID.init))
            engine.logger.info("revoked partitions", metadata: ["partitions": "\(partitions.map(\.description).sorted().joined(separator: ", "))"])
            engine.forgetCommits(for: ids)
            for id in ids { engine.payloads.drop(id) }
            engine.input { $0.partitionsRevoked(ids, at: $1) }
            hooks.revoked(partitions)
        case .committed(let offsets):
            engine.observer?.committed(offsets.partitionOffsets)
        case .error(let message):
            engine.logger.warning("kafka consumer error: \(message)")
        }
    }

    private func process(_ message: consuming KafkaMessage, into batch: inout Batch) {
        let (ref, skip) = batch.position(of: message, skipping: skippedTopics)
        switch records {
        case .events where skip: batch.events.append(ConsumedEvent(ref, demands: [:]))
        case .events: processEvent(message, ref, into: &batch)
        case .requests(let codec): processRequest(message, ref, codec, into: &batch)
        }
    }

    /// Stage two: a request record stands for the events stage one coalesced, with their times.
    private func processRequest(_ message: KafkaMessage, _ ref: EventRef, _ codec: RequestCodec, into batch: inout Batch) {
        // Kept (with a dead-letter topic) either way: a refused record and a request a 400/404 disables are both dead-lettered.
        if keepsPayloads { batch.kept.append(message) }
        guard let request = codec.decode(message.value) else {
            engine.metrics.invalid(.invalidRequest)
            engine.logger.warning(
                "not a SyncBridge request record for a configured target; dead-lettered",
                metadata: message.logMetadata(["reason": "\(InvalidReason.invalidRequest.rawValue)"]))
            batch.events.append(ConsumedEvent(ref, demands: [:], deadLetterReason: InvalidReason.invalidRequest.rawValue))
            return
        }
        batch.requests.append((batch.events.count, request))
        batch.events.append(ConsumedEvent(ref, demands: [request.key: request.policy]))
    }

    private func processEvent(_ message: consuming KafkaMessage, _ ref: EventRef, into batch: inout Batch) {
        let metrics = engine.metrics
        // The interned topic compares as a number; the name was compared again here.
        if batch.consumed.last?.topic == ref.partition.internedTopic {
            batch.consumed[batch.consumed.count - 1].count += 1
        } else {
            batch.consumed.append((ref.partition.internedTopic, 1))
        }
        let incoming = IncomingEvent(
            topic: message.topic, key: message.key,
            headers: message.headers.map { ($0.name, $0.value) }, value: message.value
        )
        let version = engine.rulesVersion.load(ordering: .acquiring)
        if version != batch.rulesVersion {
            batch.refreshRules(engine.rules.withLock { $0 }, version: version, metrics: metrics)
        }
        let match = batch.rules.evaluate(incoming, cache: &batch.plan)
        if let reason = match.invalidValue { metrics.invalid(reason) }
        batch.countMatches(match.matchedRuleIndices)
        for problem in match.problems {
            metrics.invalid(problem.reason)
            engine.logger.warning(
                "event dead-lettered: \(problem.detail)",
                metadata: message.logMetadata(["rule": "\(problem.rule)", "reason": "\(problem.reason.rawValue)"]))
        }
        if match.matchedRules.isEmpty { batch.unmatched += 1 }
        engine.observer?.consumed(ref, integrations: Array(match.demands.keys), at: Date())
        batch.events.append(ConsumedEvent(ref, demands: match.demands, deadLetterReason: match.problems.first?.reason.rawValue))
        // Last, so the record moves into `kept` rather than being copied.
        if keepsPayloads, !match.demands.isEmpty || !match.problems.isEmpty { batch.kept.append(message) }
    }

    /// Over the bound, pauses the partitions holding the most uncommitted events until those
    /// still flowing hold no more than the gap between the marks; re-checked every batch, so a
    /// flowing partition that fills up is paused in turn. Resumes all below the low-water mark.
    private func applyBackpressure() {
        let total = engine.coordinator.withLock { $0.uncommittedEvents }
        let paused = throttled.withLock { $0 }
        if total < lowWater, !paused.isEmpty {
            do {
                try consumer.resume(Array(paused))
                throttled.withLock { $0.removeAll() }
                engine.logger.notice(
                    "backpressure: uncommitted events below the low-water mark; resumed partitions",
                    metadata: [
                        "uncommitted": "\(total)", "low_water": "\(lowWater)",
                        "partitions": "\(paused.map(\.description).sorted().joined(separator: ", "))",
                    ])
            } catch {
                engine.logger.warning("backpressure: cannot resume partitions: \(error)")
            }
            return
        }
        guard total > highWater else { return }
        let owned = assignment.withLock { $0 }
        let counts = engine.coordinator.withLock { $0.uncommittedByPartition }
        let headroom = highWater - lowWater
        var flowing = counts.reduce(0) { sum, entry in
            paused.contains(TopicPartition(entry.key)) ? sum : sum + entry.value
        }
        guard flowing > headroom else { return }
        var chosen: [TopicPartition] = []
        for (partition, count) in counts.sorted(by: { ($0.value, $1.key) > ($1.value, $0.key) }) {
            let topicPartition = TopicPartition(partition)
            guard owned.contains(topicPartition), !paused.contains(topicPartition) else { continue }
            chosen.append(topicPartition)
            flowing -= count
            if flowing <= headroom { break }
        }
        guard !chosen.isEmpty else { return }
        do {
            try consumer.pause(chosen)
            throttled.withLock { $0.formUnion(chosen) }
            engine.logger.notice(
                "backpressure: uncommitted events over kafka.max_uncommitted; paused partitions",
                metadata: [
                    "uncommitted": "\(total)", "high_water": "\(highWater)",
                    "partitions": "\(chosen.map(\.description).sorted().joined(separator: ", "))",
                ])
        } catch {
            engine.logger.warning("backpressure: cannot pause partitions: \(error)")
        }
    }

    /// Hands covered offsets to librdkafka's committer, which commits them within
    /// `auto.commit.interval.ms` outside rebalances (see `KafkaConsumer`) and reports back as `.committed`.
    private func commitPending() {
        let (offsets, kafkaOffsets) = takeOwnedCommits()
        guard !kafkaOffsets.isEmpty else { return }
        do {
            // A partition this member owns but librdkafka does not take offsets for yet (between
            // an assignment and its fetch start) is offered again with the next batch; one it no
            // longer owns is dropped there by `takeOwnedCommits`.
            let notStored = try consumer.store(kafkaOffsets).partitionOffsets
            if !notStored.isEmpty { engine.perform([.commit(notStored)]) }
        } catch {
            engine.logger.warning("cannot store offsets for commit: \(error); will retry with the next batch")
            engine.perform([.commit(offsets)])
        }
    }

    /// Covered offsets waiting to be committed (of `partitions`, or all), for partitions this member still owns.
    private func takeOwnedCommits(of partitions: Set<PartitionID>? = nil) -> ([PartitionID: Int64], [TopicPartition: Int64]) {
        let owned = assignment.withLock { $0 }
        let offsets = engine.takeCommits(for: partitions).filter { owned.contains(TopicPartition($0.key)) }
        return (offsets, offsets.kafkaOffsets)
    }

    private func updateGauges() {
        let (uncommitted, pending) = engine.coordinator.withLock { coordinator in
            (
                coordinator.uncommittedEvents,
                Dictionary(
                    coordinator.settings.targets.keys.map { ($0, coordinator.pendingIntegrations(target: $0)) }, uniquingKeysWith: { a, _ in a })
            )
        }
        engine.metrics.uncommitted(uncommitted)
        for (target, count) in pending { engine.metrics.pendingIntegrations(target: target, count) }
        for (partition, lag) in consumer.lag() { engine.metrics.lag(topic: partition.topic, partition: partition.partition, lag) }
    }
}

extension KafkaMessage {
    /// `topic`, `partition` and `offset` log fields, with `extra`.
    func logMetadata(_ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        extra.merging(["topic": "\(topic)", "partition": "\(partition)", "offset": "\(offset)"]) { $1 }
    }
}
