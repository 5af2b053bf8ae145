import Kafka
import SyncBridgeCore

// The Kafka module's `TopicPartition` and the core's `PartitionID` name the same thing; the core
// does not import Kafka, so the shell converts here, and only here.

extension PartitionID {
    init(_ partition: TopicPartition) { self.init(topic: partition.topic, partition: partition.partition) }
}

extension TopicPartition {
    init(_ partition: PartitionID) { self.init(topic: partition.topic, partition: partition.partition) }
}

extension Dictionary where Key == PartitionID, Value == Int64 {
    /// Next offsets to commit, as the consumer takes them.
    var kafkaOffsets: [TopicPartition: Int64] { Dictionary<TopicPartition, Int64>(uniqueKeysWithValues: map { (TopicPartition($0.key), $0.value) }) }
}

extension Dictionary where Key == TopicPartition, Value == Int64 {
    /// Committed offsets, as the coordinator knows them.
    var partitionOffsets: [PartitionID: Int64] { Dictionary<PartitionID, Int64>(uniqueKeysWithValues: map { (PartitionID($0.key), $0.value) }) }
}
