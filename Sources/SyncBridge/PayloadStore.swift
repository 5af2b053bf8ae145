import DequeModule
import Kafka
import SyncBridgeCore
import Synchronization

/// Keeps the records of uncommitted events that may still be dead-lettered, so a dead
/// letter carries the original value; dropped once their offsets are committed.
///
/// Records arrive in offset order per partition, so a look-up is a binary search (a 404 that
/// dead-letters k of n waiting events costs k·log n, not k·n). The store is bounded by bytes as
/// well as by `kafka.max_uncommitted`: past `byteLimit` a record keeps its key and headers but
/// not its value, and its dead letter says so in `syncbridge.value_dropped`.
final class PayloadStore: Sendable {
    private struct State {
        var records: [PartitionID: Deque<KafkaMessage>] = [:]
        var bytes = 0
    }

    private let state = Mutex(State())
    let byteLimit: Int

    static let defaultByteLimit = 256 << 20

    init(byteLimit: Int = PayloadStore.defaultByteLimit) { self.byteLimit = byteLimit }

    /// Keeps a batch of records, in their order, under one lock. The records are moved out of
    /// `messages`, which is left empty with its capacity: copying them in cost a retain and
    /// release per field of each record on the consumer thread.
    func keep(_ messages: inout [KafkaMessage]) {
        guard !messages.isEmpty else { return }
        var sizes = 0
        for index in messages.indices { sizes += Self.size(of: messages[index]) }
        state.withLock { state in
            // Past the byte limit, each record's size decides whether its value is kept.
            let fits = state.bytes + sizes <= byteLimit
            var bytes = state.bytes
            // Records of a batch come in runs per partition: one look-up per run, not per record.
            var start = 0
            while start < messages.count {
                var end = start + 1
                while end < messages.count, messages[end].partition == messages[start].partition, messages[end].topic == messages[start].topic {
                    end += 1
                }
                let partition = PartitionID(topic: messages[start].topic, partition: messages[start].partition)
                moveRun(start..<end, of: &messages, into: &state.records[partition, default: []], fits: fits, bytes: &bytes)
                start = end
            }
            state.bytes = fits ? state.bytes + sizes : bytes
        }
        messages.removeAll(keepingCapacity: true)
    }

    private func moveRun(
        _ run: Range<Int>, of messages: inout [KafkaMessage], into records: inout Deque<KafkaMessage>, fits: Bool, bytes: inout Int
    ) {
        messages.moveElements(run, leaving: { KafkaMessage(topic: "", partition: 0, offset: 0, key: nil, value: nil) }) { message in
            if fits {
                records.append(message)
            } else {
                let kept = keptWithinLimit(message, bytes: bytes)
                bytes += Self.size(of: kept)
                records.append(kept)
            }
        }
    }

    /// The record as kept once the store is near its byte limit: without its value if that
    /// would pass the limit.
    private func keptWithinLimit(_ message: KafkaMessage, bytes: Int) -> KafkaMessage {
        guard bytes + Self.size(of: message) > byteLimit, message.value != nil else { return message }
        return KafkaMessage(
            topic: message.topic, partition: message.partition, offset: message.offset, key: message.key,
            value: nil, headers: message.headers + [KafkaHeader(name: Self.valueDroppedHeader, value: Array("true".utf8))],
            timestamp: message.timestamp
        )
    }

    func message(for event: EventRef) -> KafkaMessage? {
        state.withLock { state in
            guard let records = state.records[event.partition] else { return nil }
            var low = records.startIndex
            var high = records.endIndex
            while low < high {
                let middle = (low + high) / 2
                if records[middle].offset < event.offset { low = middle + 1 } else { high = middle }
            }
            return low < records.endIndex && records[low].offset == event.offset ? records[low] : nil
        }
    }

    /// Forgets everything below the committed offset.
    func committed(_ partition: PartitionID, nextOffset: Int64) {
        state.withLock { state in
            guard state.records[partition] != nil else { return }
            state.bytes -= Self.removeRecords(below: nextOffset, from: &state.records[partition]!)
        }
    }

    /// Removes the records below `offset` in one step; returns their size.
    private static func removeRecords(below offset: Int64, from records: inout Deque<KafkaMessage>) -> Int {
        var count = 0, freed = 0
        // By index: iterating copied each record out.
        while count < records.count, records[count].offset < offset {
            freed += size(of: records[count])
            count += 1
        }
        records.removeFirst(count)
        return freed
    }

    func drop(_ partition: PartitionID) {
        state.withLock { state in
            for record in state.records.removeValue(forKey: partition) ?? [] { state.bytes -= Self.size(of: record) }
        }
    }

    var storedBytes: Int { state.withLock { $0.bytes } }

    /// Set on a dead letter whose value was not kept (the store was over its byte limit).
    static let valueDroppedHeader = "syncbridge.value_dropped"

    private static func size(of message: KafkaMessage) -> Int {
        (message.value?.count ?? 0) + (message.key?.count ?? 0) + message.headers.reduce(0) { $0 + $1.name.utf8.count + ($1.value?.count ?? 0) } + 64
    }
}
