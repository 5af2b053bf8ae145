import Kafka
import Testing
@testable import SyncBridge
import SyncBridgeCore

/// The records kept for dead letters: found by offset (with the gaps compaction and filtering
/// leave), dropped on commit, and bounded by bytes.
@Suite struct PayloadStoreTests {
    let partition = PartitionID(topic: "t", partition: 0)

    func record(_ offset: Int64, bytes: Int = 10, partition: Int32 = 0) -> KafkaMessage {
        KafkaMessage(
            topic: "t", partition: partition, offset: offset, key: nil, value: Array(repeating: 1, count: bytes), headers: [], timestamp: nil)
    }

    /// A batch mixes partitions in runs, as librdkafka hands them out: each record lands in its own partition.
    @Test func aBatchOfSeveralPartitionsKeepsEachRecordInItsOwn() {
        let store = PayloadStore()
        let batch = [(0, 0), (0, 1), (1, 0), (1, 1), (0, 2), (2, 0), (1, 2)].map { record(Int64($1), partition: Int32($0)) }
        var moved = batch
        store.keep(&moved)
        #expect(moved.isEmpty)
        for message in batch {
            let found = store.message(for: EventRef(topic: "t", partition: message.partition, offset: message.offset))
            #expect(found?.partition == message.partition && found?.offset == message.offset, "\(message.partition)@\(message.offset)")
        }
        store.committed(PartitionID(topic: "t", partition: 1), nextOffset: 3)
        #expect(store.message(for: EventRef(topic: "t", partition: 1, offset: 2)) == nil)
        #expect(store.message(for: EventRef(topic: "t", partition: 0, offset: 2)) != nil)
    }

    @Test func findsEveryKeptOffsetAndNothingElse() {
        let store = PayloadStore()
        for offset in stride(from: Int64(0), to: 2000, by: 3) { store.keep([record(offset)]) }
        for offset in Int64(0)..<2000 {
            let found = store.message(for: EventRef(partition: partition, offset: offset))
            #expect((found?.offset == offset) == (offset % 3 == 0), "offset \(offset)")
        }
        #expect(store.message(for: EventRef(topic: "t", partition: 1, offset: 0)) == nil)
    }

    @Test func commitsDropRecordsAndTheirBytes() {
        let store = PayloadStore()
        for offset in Int64(0)..<10 { store.keep([record(offset, bytes: 100)]) }
        let full = store.storedBytes
        store.committed(partition, nextOffset: 5)
        #expect(store.storedBytes == full / 2)
        #expect(store.message(for: EventRef(partition: partition, offset: 4)) == nil)
        #expect(store.message(for: EventRef(partition: partition, offset: 5)) != nil)
        store.drop(partition)
        #expect(store.storedBytes == 0)
    }

    /// One record per batch, or all ten in one batch that crosses the limit part-way.
    @Test(arguments: [false, true]) func pastTheByteLimitValuesAreDroppedAndMarked(inOneBatch: Bool) {
        let store = PayloadStore(byteLimit: 1000)
        let records = (Int64(0)..<10).map { record($0, bytes: 300) }
        if inOneBatch { store.keep(records) } else { for record in records { store.keep([record]) } }
        let kept = (0..<10).compactMap { store.message(for: EventRef(partition: partition, offset: Int64($0))) }
        #expect(kept.count == 10, "every record is still found, for its key and headers")
        #expect(kept.filter { $0.value != nil }.count == 2)
        #expect(kept.filter { $0.value == nil }.allSatisfy { $0.headers.contains { $0.name == PayloadStore.valueDroppedHeader } })
        #expect(store.storedBytes <= 1000 + 10 * 100)
    }
}

extension PayloadStore {
    /// Keeps copies of `messages`: the tests look their records up afterwards.
    func keep(_ messages: [KafkaMessage]) {
        var moved = messages
        keep(&moved)
    }
}
