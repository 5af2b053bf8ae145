import Kafka
import Synchronization
import Testing

/// The internal topics' housekeeping: created when missing, read whole up to their end.
@Suite struct KafkaTopicsTests {
    @Test func ensureCreatesAMissingTopicAndReportsAnExistingOnesPartitions() throws {
        let cluster = try EmbeddedKafkaCluster()
        try cluster.createTopic("given", partitions: 7)
        #expect(try KafkaTopics.ensure(bootstrapServers: cluster.bootstrapServers, topic: "given", partitions: 2) == 7)
        let created = try KafkaTopics.ensure(
            bootstrapServers: cluster.bootstrapServers, topic: "fresh.state", partitions: 3, config: ["cleanup.policy": "compact"]
        )
        #expect(created > 0)
        #expect(try KafkaTopics.ensure(bootstrapServers: cluster.bootstrapServers, topic: "fresh.state", partitions: 3) == created)
    }

    @Test func readToEndReturnsEveryRecordUpToTheEndAndNothingAfter() async throws {
        let cluster = try EmbeddedKafkaCluster()
        try cluster.createTopic("changelog", partitions: 3)
        #expect(try readAll(cluster, "changelog").isEmpty)
        let producer = try makeProducer(cluster)
        for i in 0..<30 {
            try await producer.produce(topic: "changelog", key: bytes("k\(i % 4)"), value: bytes("v\(i)"), partition: Int32(i % 3))
        }
        try await producer.produce(topic: "changelog", key: bytes("k0"), value: nil, partition: 0)
        let records = try readAll(cluster, "changelog")
        #expect(records.count == 31)
        #expect(Set(records.compactMap { text($0.value) }) == Set((0..<30).map { "v\($0)" }))
        #expect(records.contains { $0.value == nil }, "tombstones are returned too")
        // Order within a partition is the log's order.
        let first = records.filter { $0.partition == 1 }.map(\.offset)
        #expect(first == first.sorted())
    }

    @Test func sendKeepsTheOrderOfRecordsSentOneAfterAnother() async throws {
        let cluster = try EmbeddedKafkaCluster()
        try cluster.createTopic("ordered", partitions: 1)
        let producer = try makeProducer(cluster)
        let acknowledged = Counter()
        for i in 0..<200 {
            producer.send(topic: "ordered", key: nil, value: bytes("\(i)"), partition: 0) { error in
                if error == nil { acknowledged.add() }
            }
        }
        producer.flush(timeoutMilliseconds: 10_000)
        #expect(acknowledged.value == 200)
        let values = try readAll(cluster, "ordered").compactMap { text($0.value) }
        #expect(values == (0..<200).map { "\($0)" })
    }
}

final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}

func readAll(_ cluster: EmbeddedKafkaCluster, _ topic: String) throws -> [KafkaMessage] {
    var records: [KafkaMessage] = []
    try KafkaTopics.readToEnd(bootstrapServers: cluster.bootstrapServers, topic: topic) { records.append($0) }
    return records
}
