import CRdKafka
import Foundation

/// Topic housekeeping for SyncBridge's internal topics: creating them, and reading one whole
/// (a compacted state topic) up to the end it had when the read began. Each call opens a
/// short-lived client and blocks, so run it off the cooperative pool.
public enum KafkaTopics {
    /// Creates `topic` through the admin API unless it exists, and returns its partition count.
    /// Where the cluster refuses CreateTopics (the embedded broker does), the topic is created by
    /// the cluster's auto-creation, or must exist already.
    public static func ensure(
        bootstrapServers: String, properties: [String: String] = [:], topic: String, partitions: Int32,
        config: [String: String] = [:], timeoutMilliseconds: Int32 = 10_000
    ) throws -> Int32 {
        var settings = properties
        settings["bootstrap.servers"] = bootstrapServers
        let conf = try RDKafkaConfiguration.make(settings)
        let handle = try RDKafkaConfiguration.makeHandle(RD_KAFKA_PRODUCER, conf, role: "admin client")
        defer { rd_kafka_destroy(handle) }
        if let count = try? partitionCount(handle, topic, allowCreate: false, timeoutMilliseconds: timeoutMilliseconds) {
            return count
        }
        createTopic(handle, topic, partitions: partitions, config: config, timeoutMilliseconds: timeoutMilliseconds)
        return try partitionCount(handle, topic, allowCreate: true, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Hands `each` every record of `topic` from the start up to the end offsets read when the
    /// call began, in log order per partition: the way a Kafka Streams task restores a changelog
    /// before it processes anything. Records are not collected, so an uncompacted topic costs
    /// time, not memory.
    public static func readToEnd(
        bootstrapServers: String, properties: [String: String] = [:], topic: String, timeoutMilliseconds: Int32 = 10_000,
        each: (KafkaMessage) -> Void
    ) throws {
        var settings = properties
        settings["bootstrap.servers"] = bootstrapServers
        // Assigned, never subscribed: this reader joins no group and commits nothing.
        settings["group.id"] = "syncbridge-reader"
        settings["enable.auto.commit"] = "false"
        settings["enable.partition.eof"] = "true"
        let conf = try RDKafkaConfiguration.make(settings)
        let handle = try RDKafkaConfiguration.makeHandle(RD_KAFKA_CONSUMER, conf, role: "topic reader")
        defer {
            rd_kafka_consumer_close(handle)
            rd_kafka_destroy(handle)
        }
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeoutMilliseconds))
        let count = try partitionCount(handle, topic, allowCreate: false, timeoutMilliseconds: timeoutMilliseconds)
        var ends: [Int32: Int64] = [:]
        var starts: [(TopicPartition, Int64?)] = []
        for partition in 0..<count {
            var low: Int64 = 0
            var high: Int64 = 0
            let error = rd_kafka_query_watermark_offsets(handle, topic, partition, &low, &high, timeoutMilliseconds)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError("kafka: cannot read the end offsets of '\(topic)'", error) }
            if high > low {
                ends[partition] = high
                starts.append((TopicPartition(topic: topic, partition: partition), low))
            }
        }
        guard !starts.isEmpty else { return }
        let assigned = withPartitionList(starts) { rd_kafka_assign(handle, $0) }
        guard assigned == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError("kafka: cannot read '\(topic)'", assigned) }
        while !ends.isEmpty {
            guard ContinuousClock.now < deadline else {
                throw KafkaError(message: "kafka: reading '\(topic)' to its end took over \(timeoutMilliseconds) ms; is the broker reachable?")
            }
            guard let message = rd_kafka_consumer_poll(handle, 100) else { continue }
            defer { rd_kafka_message_destroy(message) }
            let partition = message.pointee.partition
            switch message.pointee.err {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                let record = KafkaMessage(copying: message)
                if let end = ends[partition], record.offset < end { each(record) }
                if let end = ends[partition], record.offset + 1 >= end { ends[partition] = nil }
            case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                // Compaction or transaction markers can leave the last offsets without a record.
                if let end = ends[partition], message.pointee.offset >= end { ends[partition] = nil }
            default:
                throw KafkaError("kafka: cannot read '\(topic)'", message.pointee.err)
            }
        }
    }

    private static func createTopic(_ handle: OpaquePointer, _ topic: String, partitions: Int32, config: [String: String], timeoutMilliseconds: Int32)
    {
        var reason = [CChar](repeating: 0, count: 512)
        // Replication 3 where the cluster has that many brokers; -1 lets the broker's default decide.
        guard let newTopic = rd_kafka_NewTopic_new(topic, partitions, -1, &reason, reason.count) else { return }
        defer { rd_kafka_NewTopic_destroy(newTopic) }
        for (name, value) in config { _ = rd_kafka_NewTopic_set_config(newTopic, name, value) }
        let queue = rd_kafka_queue_new(handle)
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
        defer { rd_kafka_AdminOptions_destroy(options) }
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMilliseconds, &reason, reason.count)
        var topics: [OpaquePointer?] = [newTopic]
        rd_kafka_CreateTopics(handle, &topics, 1, options, queue)
        // The outcome is read from the metadata that follows: "exists already" and "not
        // supported here" both leave a topic (or its auto-creation) to find there.
        if let event = rd_kafka_queue_poll(queue, timeoutMilliseconds) { rd_kafka_event_destroy(event) }
    }

    private static func partitionCount(_ handle: OpaquePointer, _ topic: String, allowCreate: Bool, timeoutMilliseconds: Int32) throws -> Int32 {
        let topicHandle = rd_kafka_topic_new(handle, topic, nil)
        defer { rd_kafka_topic_destroy(topicHandle) }
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeoutMilliseconds))
        var lastError = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
        repeat {
            var metadata: UnsafePointer<rd_kafka_metadata_t>?
            // Naming the topic lets a cluster with auto-creation create it; listing all never does.
            let error =
                allowCreate
                ? rd_kafka_metadata(handle, 0, topicHandle, &metadata, timeoutMilliseconds)
                : rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMilliseconds)
            if error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata {
                defer { rd_kafka_metadata_destroy(metadata) }
                let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
                if let entry = topics.first(where: { String(cString: $0.topic) == topic }) {
                    if entry.err == RD_KAFKA_RESP_ERR_NO_ERROR, entry.partition_cnt > 0 { return entry.partition_cnt }
                    lastError = entry.err
                }
            } else {
                lastError = error
            }
            guard allowCreate else { break }
            Thread.sleep(forTimeInterval: 0.1)
        } while ContinuousClock.now < deadline
        throw KafkaError("kafka: topic '\(topic)' does not exist and could not be created (create it, or allow the client to)", lastError)
    }
}
