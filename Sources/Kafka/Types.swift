/// One partition of one topic.
public struct TopicPartition: Hashable, Sendable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// A record header. A `nil` value is a header present without a value.
public struct KafkaHeader: Sendable, Equatable {
    public var name: String
    public var value: [UInt8]?

    public init(name: String, value: [UInt8]?) {
        self.name = name
        self.value = value
    }
}

/// A record read from a partition.
public struct KafkaMessage: Sendable, Equatable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    /// `nil` for a tombstone (a record whose value is null), which is normal on compacted topics.
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// Milliseconds since the Unix epoch, when the broker reports one.
    public var timestamp: Int64?

    public init(
        topic: String, partition: Int32, offset: Int64,
        key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], timestamp: Int64? = nil
    ) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.headers = headers
        self.timestamp = timestamp
    }

    public var topicPartition: TopicPartition { TopicPartition(topic: topic, partition: partition) }
}

/// What one `KafkaConsumer.poll` call observed.
public enum ConsumerEvent: Sendable {
    case message(KafkaMessage)
    /// Partitions newly given to this member; with the cooperative protocol this is an increment.
    case assigned([TopicPartition])
    /// Partitions taken away (or lost); commit what was processed for them before they move.
    case revoked([TopicPartition])
    /// Stored offsets the group coordinator accepted (each the next offset to consume).
    case committed([TopicPartition: Int64])
    /// A consumer-level error the client reports but keeps running through (e.g. broker down).
    case error(String)
}
