import DequeModule
import Kafka
import SyncBridgeCore
import Synchronization

/// Keeps the records of uncommitted events that may still be dead-lettered, so a dead
/// letter carries the original value; dropped once their offsets are committed.
final class PayloadStore: Sendable {
    private let records = Mutex<[PartitionID: Deque<KafkaMessage>]>([:])

    func keep(_ message: KafkaMessage, at partition: PartitionID) {
        records.withLock { $0[partition, default: []].append(message) }
    }

    func message(for event: EventRef) -> KafkaMessage? {
        records.withLock { records in
            records[event.partition]?.first { $0.offset == event.offset }
        }
    }

    /// Forgets everything below the committed offset.
    func committed(_ partition: PartitionID, nextOffset: Int64) {
        records.withLock { records in
            while let first = records[partition]?.first, first.offset < nextOffset { records[partition]?.removeFirst() }
        }
    }

    func drop(_ partition: PartitionID) {
        _ = records.withLock { $0.removeValue(forKey: partition) }
    }
}
