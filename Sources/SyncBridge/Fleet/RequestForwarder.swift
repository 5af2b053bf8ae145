import Foundation
import Kafka
import SyncBridgeCore

/// Fleet mode's stage one output: turns a flushed batch of one integration's events into a
/// request record on the requests topic, on the partition that carries its target. The
/// producer is idempotent with acks=all; "accepted" means the brokers acknowledged it, and only
/// then are the source offsets it covers committed.
struct RequestForwarder: Sendable {
    let topic: String
    let partitions: Int32
    let producer: KafkaProducer
    let codec: RequestCodec

    func forward(_ record: RequestRecord) async throws {
        try await producer.produce(
            topic: topic, key: Array(record.target.utf8), value: codec.encode(record),
            partition: RequestPartitioner.partition(for: record.target, count: partitions)
        )
    }
}
