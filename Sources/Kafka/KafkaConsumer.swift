import CRdKafka
import Foundation
import Synchronization

/// The Kafka client side of SyncBridge: consumer-group membership with explicit offset commits
/// (`KafkaConsumer`), acknowledged produces (`KafkaProducer`) and an in-process Kafka-protocol
/// cluster for tests and demos (`EmbeddedKafkaCluster`). This module owns every call into
/// librdkafka; everything it exposes is a plain Swift value, so callers never manage C memory,
/// callbacks or rebalance bookkeeping.
///
/// A `KafkaConsumer` is a consumer-group member. Its methods serialize on one lock, which `poll`
/// holds while it waits and while librdkafka serves rebalance and commit callbacks, so it is safe
/// from any thread but meant to be driven by one (SyncBridge's consumer thread). Only offsets
/// handed to `store` (or `commit`) are ever committed; rebalances are applied inside `poll` and
/// reported as `.assigned` / `.revoked` events, in order, before any message fetched under the
/// new assignment.
///
/// Stored offsets are committed by librdkafka's own committer every `auto.commit.interval.ms`
/// and for partitions as they are revoked. That committer waits while the group rebalances; a
/// commit sent meanwhile carries a generation the coordinator no longer accepts, and librdkafka
/// answers ILLEGAL_GENERATION by dropping the whole assignment as lost and rejoining, which on a
/// busy group sets off one rebalance after another.
public final class KafkaConsumer: Sendable {
    /// Everything the lock guards. The pointers are reached only under it (and by the C
    /// callbacks, which librdkafka runs inside `poll` and `close`, under it too).
    private struct Client: @unchecked Sendable {
        /// Nil once closed.
        var handle: OpaquePointer?
        /// The consumer queue batches are read from; nil once closed.
        var queue: OpaquePointer?
        let events: PendingEvents
        let buffer = MessageBuffer(capacity: 512)

        func open() throws(KafkaError) -> OpaquePointer {
            guard let handle else { throw KafkaError(message: "kafka consumer is closed; create a new consumer.") }
            return handle
        }
    }

    private let client: Mutex<Client>

    /// - Parameters:
    ///   - topics: topic names, or patterns starting with `^` (matched against existing topics,
    ///     re-checked every `topic.metadata.refresh.interval.ms`).
    ///   - properties: librdkafka properties; they override this type's defaults
    ///     (manual commits, cooperative-sticky assignment, `auto.offset.reset=earliest`).
    public init(
        bootstrapServers: String, groupID: String, topics: [String], properties: [String: String] = [:]
    ) throws {
        guard !topics.isEmpty else {
            throw KafkaError(message: "kafka consumer: no topics to subscribe to; configure at least one topic name or ^pattern.")
        }
        var settings = [
            "enable.auto.commit": "true",
            "auto.commit.interval.ms": "1000",
            "enable.auto.offset.store": "false",
            "partition.assignment.strategy": "cooperative-sticky",
            "auto.offset.reset": "earliest",
        ]
        settings.merge(properties) { _, given in given }
        settings["bootstrap.servers"] = bootstrapServers
        settings["group.id"] = groupID

        let events = PendingEvents()
        let conf = try RDKafkaConfiguration.make(settings)
        rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
        rd_kafka_conf_set_offset_commit_cb(conf, offsetCommitCallback)
        // Unretained: `events` is owned by this consumer, which outlives every callback (they run inside poll/close).
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(events).toOpaque())
        let handle = try RDKafkaConfiguration.makeHandle(RD_KAFKA_CONSUMER, conf, role: "consumer")
        // Route all callbacks and errors through rd_kafka_consumer_poll, so one thread drives everything.
        rd_kafka_poll_set_consumer(handle)

        let error = withPartitionList(topics.map { TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA) }) {
            rd_kafka_subscribe(handle, $0)
        }
        guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
            rd_kafka_destroy(handle)
            throw KafkaError("kafka consumer: cannot subscribe to \(topics) (check topic names and regex syntax)", error)
        }
        client = Mutex(Client(handle: handle, queue: rd_kafka_queue_get_consumer(handle), events: events))
    }

    deinit { close() }

    /// Waits up to `timeoutMilliseconds` for the next event; `nil` when nothing happened or after `close`.
    public func poll(timeoutMilliseconds: Int32) -> ConsumerEvent? {
        var taken: [ConsumerEvent] = []
        poll(upTo: 1, timeoutMilliseconds: timeoutMilliseconds, into: &taken)
        return taken.first
    }

    /// Appends up to `limit` events to `events`, waiting up to `timeoutMilliseconds` for the
    /// first: records read with `rd_kafka_consume_batch_queue`, with rebalances and commits in
    /// the order they happened among them. Returns without waiting when events are already
    /// queued, and appends nothing after `close`.
    public func poll(upTo limit: Int, timeoutMilliseconds: Int32, into events: inout [ConsumerEvent]) {
        let limit = max(1, limit)
        client.withLock { client in
            let pending = client.events
            if let handle = client.handle, !pending.handover.isEmpty, ContinuousClock.now >= pending.nextHandoverAttempt {
                retryHandover(handle, pending)
            }
            if pending.isEmpty, let handle = client.handle, let queue = client.queue {
                fetch(handle, queue, pending, limit: limit, timeoutMilliseconds: timeoutMilliseconds, buffer: client.buffer, into: &events)
            }
            pending.take(limit, into: &events)
        }
    }

    /// One batch from the consumer queue; `pending` is empty when this starts.
    /// librdkafka serves rebalance and commit callbacks inside the batch calls, so their events
    /// are already in `pending` when the records come back. A record of a partition assigned
    /// during the call was fetched after that assignment and goes after its `.assigned`; every
    /// other record goes ahead of the events (a revoked partition's records that arrive after
    /// its revocation are outdated, and librdkafka drops them). `rd_kafka_yield` in the callback
    /// would end the batch instead, but its flag is per thread and outlives the call.
    ///
    /// Records go straight to `events` when no callback raised anything meanwhile (the usual
    /// case), and through `pending` only to be ordered among such events.
    private func fetch(
        _ handle: OpaquePointer, _ queue: OpaquePointer, _ pending: PendingEvents, limit: Int, timeoutMilliseconds: Int32, buffer: MessageBuffer,
        into events: inout [ConsumerEvent]
    ) {
        let wanted = min(limit, buffer.capacity)
        // A batch call waits its whole timeout unless `wanted` records arrive, so it never waits
        // here: what is queued now is taken at once, and only an empty queue is waited on, for one.
        var count = rd_kafka_consume_batch_queue(queue, 0, buffer.messages, wanted)
        if count == 0, timeoutMilliseconds != 0, pending.isEmpty {
            count = rd_kafka_consume_batch_queue(queue, timeoutMilliseconds, buffer.messages, 1)
            if count == 1, wanted > 1, pending.isEmpty {
                count += max(0, rd_kafka_consume_batch_queue(queue, 0, buffer.messages + 1, wanted - 1))
            }
        }
        guard count > 0 else { return }
        let start = events.count
        events.reserveCapacity(start + count)
        var topics = TopicNames()
        for index in 0..<count {
            guard let message = buffer.messages[index] else { continue }
            defer { rd_kafka_message_destroy(message) }
            switch message.pointee.err {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                events.append(.message(KafkaMessage(copying: message, topics: &topics)))
            case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                continue
            default:
                events.append(.error(describeError(message)))
            }
        }
        guard !pending.isEmpty else { return }
        let records = Array(events[start...])
        events.removeSubrange(start...)
        let assigned = pending.assignedPartitions
        if assigned.isEmpty {
            pending.insert(records, at: 0)
        } else {
            let fetchedAfter: (ConsumerEvent) -> Bool = { event in
                if case .message(let message) = event { return assigned.contains(TopicPartition(topic: message.topic, partition: message.partition)) }
                return false
            }
            pending.insert(records.filter { !fetchedAfter($0) }, at: 0)
            for record in records where fetchedAfter(record) { pending.append(record) }
        }
    }

    /// Asks `provider` for offsets whenever partitions are about to be revoked and stores them
    /// inside the rebalance, while this member still owns them; librdkafka commits them as it
    /// removes the partitions. Called on the polling thread, inside `poll` and `close`.
    public func storeBeforeRevoke(_ provider: @escaping @Sendable ([TopicPartition]) -> [TopicPartition: Int64]) {
        client.withLock { $0.events.offsetsBeforeRevoke = provider }
    }

    /// Marks `offsets` (each the NEXT offset to consume) for the next commit: librdkafka's
    /// committer sends them within `auto.commit.interval.ms`, outside rebalances, and reports each
    /// commit as a `.committed` event. Returns the partitions it could not store yet: ones not
    /// (or not yet, or no longer) assigned; the caller offers those again.
    @discardableResult
    public func store(_ offsets: [TopicPartition: Int64]) throws -> [TopicPartition: Int64] {
        guard !offsets.isEmpty else { return [:] }
        return try withHandle { handle in
            try withPartitionList(offsets.map { ($0.key, $0.value) }) { list in
                let error = rd_kafka_offsets_store(handle, list)
                let results = entries(of: list)
                let notYours: Set<rd_kafka_resp_err_t> = [RD_KAFKA_RESP_ERR__STATE, RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION]
                let failed = results.filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR && !notYours.contains($0.error) }
                if let first = failed.first { throw KafkaError("kafka: cannot store offsets for \(failed.map(\.partition))", first.error) }
                if error != RD_KAFKA_RESP_ERR_NO_ERROR, !notYours.contains(error) { throw KafkaError("kafka: cannot store offsets", error) }
                let notAssigned = results.filter { notYours.contains($0.error) }.map(\.partition)
                return offsets.filter { notAssigned.contains($0.key) }
            }
        }
    }

    /// Synchronously commits `offsets`, each the NEXT offset to consume (last processed + 1).
    public func commit(_ offsets: [TopicPartition: Int64]) throws {
        guard !offsets.isEmpty else { return }
        return try withHandle { handle in
            try withPartitionList(offsets.map { ($0.key, $0.value) }) { list in
                let error = rd_kafka_commit(handle, list, 0)
                let failed = entries(of: list).filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
                if let first = failed.first {
                    throw KafkaError("kafka commit failed for \(failed.map(\.partition)) (retry after the next rebalance)", first.error)
                }
                if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                    throw KafkaError("kafka commit failed (retry; check that the group coordinator is reachable)", error)
                }
            }
        }
    }

    /// The group's committed offsets (next offset to consume); partitions without a commit are omitted.
    public func committed(_ partitions: [TopicPartition], timeoutMilliseconds: Int32) throws -> [TopicPartition: Int64] {
        return try withHandle { handle in
            try withPartitionList(partitions) { list in
                let error = rd_kafka_committed(handle, list, timeoutMilliseconds)
                guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError("kafka: cannot read committed offsets (is the broker reachable?)", error)
                }
                return offsets(in: list)
            }
        }
    }

    /// A group's committed offsets read without joining it (no subscription, so no rebalance for
    /// its members): for checking from outside what a running service has committed.
    public static func committedOffsets(
        bootstrapServers: String, groupID: String, partitions: [TopicPartition], timeoutMilliseconds: Int32 = 5000
    ) throws -> [TopicPartition: Int64] {
        let conf = try RDKafkaConfiguration.make(["bootstrap.servers": bootstrapServers, "group.id": groupID, "enable.auto.commit": "false"])
        let handle = try RDKafkaConfiguration.makeHandle(RD_KAFKA_CONSUMER, conf, role: "consumer")
        defer { rd_kafka_destroy(handle) }
        return try withPartitionList(partitions) { list in
            let error = rd_kafka_committed(handle, list, timeoutMilliseconds)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError("kafka: cannot read committed offsets (is the broker reachable?)", error)
            }
            return offsets(in: list)
        }
    }

    /// Stops fetching from `partitions` (still assigned, so no rebalance) until `resume`.
    public func pause(_ partitions: [TopicPartition]) throws {
        return try withHandle { handle in
            try withPartitionList(partitions) { try check(rd_kafka_pause_partitions(handle, $0), $0, "pause") }
        }
    }

    public func resume(_ partitions: [TopicPartition]) throws {
        return try withHandle { handle in
            try withPartitionList(partitions) { try check(rd_kafka_resume_partitions(handle, $0), $0, "resume") }
        }
    }

    /// High watermark minus position for each assigned partition, from watermarks cached by recent
    /// fetches (no broker round trip). Partitions with no position or watermark yet are omitted.
    public func lag() -> [TopicPartition: Int64] {
        (try? withHandle(Self.lag(on:))) ?? [:]
    }

    private static func lag(on handle: OpaquePointer) -> [TopicPartition: Int64] {
        var assignment: PartitionListPointer?
        guard rd_kafka_assignment(handle, &assignment) == RD_KAFKA_RESP_ERR_NO_ERROR, let assignment else { return [:] }
        defer { rd_kafka_topic_partition_list_destroy(assignment) }
        rd_kafka_position(handle, assignment)
        var lags: [TopicPartition: Int64] = [:]
        for (partition, position) in offsets(in: assignment) {
            var low: Int64 = 0
            var high: Int64 = 0
            let error = rd_kafka_get_watermark_offsets(handle, partition.topic, partition.partition, &low, &high)
            if error == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 {
                lags[partition] = max(0, high - position)
            }
        }
        return lags
    }

    /// Leaves the group (revoking partitions) and frees the client. Safe to call more than once.
    public func close() {
        client.withLock { client in
            guard let handle = client.handle else { return }
            client.handle = nil
            // Leaving the group revokes everything: stored offsets are committed on the way out, by
            // librdkafka, not by a synchronous commit inside that revocation, which would wait forever
            // on the queue close itself is serving.
            client.events.closing = true
            if let queue = client.queue { rd_kafka_queue_destroy(queue) }
            client.queue = nil
            rd_kafka_consumer_close(handle)
            // librdkafka before 2.3 aborts when destroying a cooperative-sticky member that had its
            // JoinGroup answer but no assignment yet (librdkafka#4312): the assignor state it asserts
            // on is created only with the first assignment. Such a member has left the group by now
            // and holds nothing, so its handle is left to the process instead (one per consumer).
            if client.events.assignmentReceived { rd_kafka_destroy(handle) }
        }
    }

    /// The member ID the group coordinator gave this consumer; nil before it first joined or after `close`.
    public var memberID: String? {
        client.withLock { client in
            guard let handle = client.handle, let id = rd_kafka_memberid(handle) else { return nil }
            defer { rd_kafka_mem_free(handle, id) }
            let text = String(cString: id)
            return text.isEmpty ? nil : text
        }
    }

    /// Runs `body` on the open handle, under the lock that serializes this consumer's calls.
    private func withHandle<Result>(_ body: (OpaquePointer) throws -> Result) throws -> Result {
        try client.withLock { client in try body(try client.open()) }
    }
}

/// The array `rd_kafka_consume_batch_queue` fills, allocated once per consumer.
final class MessageBuffer {
    let capacity: Int
    let messages: UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>

    init(capacity: Int) {
        self.capacity = capacity
        messages = .allocate(capacity: capacity)
        messages.initialize(repeating: nil, count: capacity)
    }

    deinit { messages.deallocate() }
}

/// Events raised by the rebalance callback, drained by `poll` ahead of anything fetched later.
/// Only touched from the polling thread, since callbacks run inside poll/close.
final class PendingEvents {
    /// Events not handed out yet start at `head`.
    private var queue: [ConsumerEvent] = []
    private var head = 0
    /// Offsets to store while revoked partitions are still owned; see `storeBeforeRevoke`.
    var offsetsBeforeRevoke: (([TopicPartition]) -> [TopicPartition: Int64])?
    var closing = false
    /// Whether librdkafka delivered an assignment (even an empty one); see `close`.
    var assignmentReceived = false
    /// Revoked partitions' offsets whose commit inside the revocation was refused, committed
    /// again from `poll` once the group settles (see `retryHandover`), until `handoverUntil`.
    var handover: [TopicPartition: Int64] = [:]
    var handoverUntil = ContinuousClock.now
    var nextHandoverAttempt = ContinuousClock.now
    var handoverAttempts = 0

    var isEmpty: Bool { head == queue.count }

    /// Partitions in the `.assigned` events not handed out yet.
    var assignedPartitions: Set<TopicPartition> {
        queue[head...].reduce(into: []) { partitions, event in
            if case .assigned(let assigned) = event { partitions.formUnion(assigned) }
        }
    }

    func append(_ event: ConsumerEvent) { queue.append(event) }

    /// Puts `events` ahead of the first `position` events not handed out yet.
    func insert(_ events: [ConsumerEvent], at position: Int) { queue.insert(contentsOf: events, at: head + position) }

    func take(_ limit: Int, into events: inout [ConsumerEvent]) {
        let end = min(queue.count, head + limit)
        events.append(contentsOf: queue[head..<end])
        head = end
        if head == queue.count {
            queue.removeAll(keepingCapacity: queue.capacity <= 1024)
            head = 0
        }
    }
}

/// Applies the assignment change synchronously (as librdkafka requires) and reports it.
/// A plain C function: state arrives through the opaque pointer, never a capture.
private func rebalanceCallback(
    handle: OpaquePointer?, reason: rd_kafka_resp_err_t, list: PartitionListPointer?, opaque: UnsafeMutableRawPointer?
) {
    guard let handle, let opaque else { return }
    let events = Unmanaged<PendingEvents>.fromOpaque(opaque).takeUnretainedValue()
    let partitions = list.map { entries(of: $0).map(\.partition) } ?? []
    let cooperative = rd_kafka_rebalance_protocol(handle).map { String(cString: $0) } == "COOPERATIVE"

    var failure: KafkaError?
    switch reason {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        events.assignmentReceived = true
        if cooperative {
            failure = rd_kafka_incremental_assign(handle, list).map { KafkaError("kafka: cannot apply assignment", taking: $0) }
        } else {
            failure = failureUnlessOK(rd_kafka_assign(handle, list), "kafka: cannot apply assignment")
        }
        if !partitions.isEmpty { events.append(.assigned(partitions)) }
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        // Last chance for these partitions, under the generation that revoked them: stored, for the
        // commit librdkafka sends as it removes them, and committed here as well. That commit can
        // meet a coordinator still waiting for another member's SyncGroup (the embedded broker
        // answers REBALANCE_IN_PROGRESS then, and librdkafka drops its own commit); this one is
        // retried for a moment, since that wait does not depend on this member. Lost partitions
        // (this member was expelled) already belong to another: nothing is committed for them.
        if rd_kafka_assignment_lost(handle) == 0, let offsets = events.offsetsBeforeRevoke?(partitions), !offsets.isEmpty {
            if !events.closing { commitForHandover(handle, offsets, events) }
            let error = withPartitionList(offsets.map { ($0.key, $0.value) }) { rd_kafka_offsets_store(handle, $0) }
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                events.append(
                    .error(
                        "kafka: storing offsets before revocation failed (\(String(cString: rd_kafka_err2str(error)))); those events will be redelivered"
                    ))
            }
        }
        if cooperative {
            failure = rd_kafka_incremental_unassign(handle, list).map { KafkaError("kafka: cannot revoke partitions", taking: $0) }
        } else {
            failure = failureUnlessOK(rd_kafka_assign(handle, nil), "kafka: cannot revoke partitions")
        }
        if !partitions.isEmpty { events.append(.revoked(partitions)) }
    default:
        // Unexpected rebalance outcome: drop everything so no partition is consumed twice.
        _ = rd_kafka_assign(handle, nil)
        failure = KafkaError("kafka rebalance failed", reason)
        if !partitions.isEmpty { events.append(.revoked(partitions)) }
    }
    if let failure { events.append(.error(failure.message)) }
}

/// The synchronous commit inside a revocation, retried while the group finishes its sync.
private func commitForHandover(_ handle: OpaquePointer, _ offsets: [TopicPartition: Int64], _ events: PendingEvents) {
    let deadline = ContinuousClock.now + .seconds(3)
    var error = RD_KAFKA_RESP_ERR_NO_ERROR
    repeat {
        error = withPartitionList(offsets.map { ($0.key, $0.value) }) { rd_kafka_commit(handle, $0, 0) }
        guard error == RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS else { break }
        Thread.sleep(forTimeInterval: 0.1)
    } while ContinuousClock.now < deadline
    guard error != RD_KAFKA_RESP_ERR_NO_ERROR else { return }
    events.append(
        .error(
            "kafka: commit before revocation failed (\(String(cString: rd_kafka_err2str(error)))); it is sent again once the group has settled"
        ))
    events.handover.merge(offsets) { max($0, $1) }
    events.handoverUntil = ContinuousClock.now + handoverRetryWindow
    events.nextHandoverAttempt = ContinuousClock.now + .milliseconds(500)
    events.handoverAttempts = 0
}

/// How long a refused handover commit is retried after its revocation: longer than a loaded
/// group takes to settle (the embedded coordinator alone can wait twice session.timeout - 1 s).
private let handoverRetryWindow = Duration.seconds(120)

/// Commits, after the revocation, the offsets its own commit could not: the group coordinator
/// refuses commits while the group is joining, which can last until the revoking member itself
/// rejoins, so waiting inside the revocation cannot always succeed. Kafka takes commits for
/// partitions a member of the current generation does not own; a partition whose committed
/// offset is already as far (its new owner committed) is left alone, so none moves back.
private func retryHandover(_ handle: OpaquePointer, _ events: PendingEvents) {
    let now = ContinuousClock.now
    guard now < events.handoverUntil else {
        events.append(
            .error(
                "kafka: the handover commit for \(events.handover.keys.map(\.description).sorted()) was refused for \(handoverRetryWindow); the new owner redelivers those events"
            ))
        events.handover = [:]
        return
    }
    // 0.5 s doubling to 4 s: each attempt blocks this poll for up to a second.
    events.nextHandoverAttempt = now + .milliseconds(500 << min(events.handoverAttempts, 3))
    events.handoverAttempts += 1
    let current = withPartitionList(Array(events.handover.keys)) { list -> [TopicPartition: Int64]? in
        rd_kafka_committed(handle, list, 1000) == RD_KAFKA_RESP_ERR_NO_ERROR ? offsets(in: list) : nil
    }
    guard let current else { return }
    events.handover = events.handover.filter { (current[$0.key] ?? -1) < $0.value }
    guard !events.handover.isEmpty else { return }
    let pending = events.handover
    let error = withPartitionList(pending.map { ($0.key, $0.value) }) { rd_kafka_commit(handle, $0, 0) }
    guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { return }
    events.handover = [:]
    events.append(.committed(pending))
}

/// librdkafka's committer finished a commit (served inside poll, like the rebalance callback).
private func offsetCommitCallback(
    handle: OpaquePointer?, error: rd_kafka_resp_err_t, list: PartitionListPointer?, opaque: UnsafeMutableRawPointer?
) {
    guard let opaque else { return }
    let events = Unmanaged<PendingEvents>.fromOpaque(opaque).takeUnretainedValue()
    // Nothing stored since the last commit: the committer had nothing to send.
    guard error != RD_KAFKA_RESP_ERR__NO_OFFSET else { return }
    var committed: [TopicPartition: Int64] = [:]
    if let list {
        for entry in entries(of: list) where entry.error == RD_KAFKA_RESP_ERR_NO_ERROR && entry.offset >= 0 {
            committed[entry.partition] = max(committed[entry.partition] ?? 0, entry.offset)
        }
    }
    if !committed.isEmpty { events.append(.committed(committed)) }
    if error != RD_KAFKA_RESP_ERR_NO_ERROR {
        events.append(
            .error("kafka: commit failed (\(String(cString: rd_kafka_err2str(error)))); stored offsets are committed again on the next attempt"))
    }
}

private func failureUnlessOK(_ error: rd_kafka_resp_err_t, _ context: String) -> KafkaError? {
    error == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(context, error)
}

private func offsets(in list: PartitionListPointer) -> [TopicPartition: Int64] {
    var result: [TopicPartition: Int64] = [:]
    for entry in entries(of: list) where entry.offset >= 0 {
        result[entry.partition] = entry.offset
    }
    return result
}

private func check(_ error: rd_kafka_resp_err_t, _ list: PartitionListPointer, _ action: String) throws {
    let failed = entries(of: list).filter { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }
    if let first = failed.first {
        throw KafkaError("kafka: cannot \(action) \(failed.map(\.partition)) (only assigned partitions can be paused or resumed)", first.error)
    }
    if error != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("kafka: cannot \(action) partitions", error) }
}

private func describeError(_ message: UnsafePointer<rd_kafka_message_t>) -> String {
    let reason = String(cString: rd_kafka_message_errstr(message))
    guard let topic = message.pointee.rkt else { return "kafka consumer error: \(reason)" }
    return "kafka consumer error on \(String(cString: rd_kafka_topic_name(topic)))[\(message.pointee.partition)]: \(reason)"
}
