import CRdKafka

typealias PartitionListPointer = UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

/// Runs `body` with a temporary C partition list holding `entries`; offsets are set where given.
func withPartitionList<R>(
    _ entries: [(TopicPartition, Int64?)], _ body: (PartitionListPointer) throws -> R
) rethrows -> R {
    let list = rd_kafka_topic_partition_list_new(Int32(entries.count))!
    defer { rd_kafka_topic_partition_list_destroy(list) }
    for (partition, offset) in entries {
        let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
        if let offset { element.pointee.offset = offset }
    }
    return try body(list)
}

func withPartitionList<R>(_ partitions: [TopicPartition], _ body: (PartitionListPointer) throws -> R) rethrows -> R {
    try withPartitionList(partitions.map { ($0, nil) }, body)
}

/// One element of a C partition list, copied out as Swift values.
struct PartitionEntry {
    var partition: TopicPartition
    var offset: Int64
    var error: rd_kafka_resp_err_t
}

func entries(of list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [PartitionEntry] {
    guard let elements = list.pointee.elems else { return [] }
    return (0..<Int(list.pointee.cnt)).map { index in
        let element = elements[index]
        return PartitionEntry(
            partition: TopicPartition(topic: String(cString: element.topic), partition: element.partition),
            offset: element.offset,
            error: element.err)
    }
}
