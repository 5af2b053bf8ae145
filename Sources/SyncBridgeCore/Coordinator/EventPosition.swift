import Synchronization

/// A topic name interned for the life of the process, as a small number, so an event's position
/// holds no reference-counted name: the consumer thread and the threads that finish syncs both
/// copied that name for every event (a run of the throughput benchmark with a topic name short
/// enough to be stored inline used about a tenth less CPU). Names stay interned; they come from
/// the subscription, never from record bytes or the ingress (which creates no topic), so there
/// are as many as the topics this member has consumed.
public struct InternedTopic: Hashable, Sendable {
    private let index: UInt32

    private static let table = Mutex<(names: [String], indices: [String: UInt32])>(([], [:]))

    public init(_ name: String) {
        index = Self.table.withLock { table in
            if let index = table.indices[name] { return index }
            let index = UInt32(table.names.count)
            table.names.append(name)
            table.indices[name] = index
            return index
        }
    }

    public var name: String { Self.table.withLock { $0.names[Int(index)] } }
}

/// A Kafka partition as the coordinator knows it.
public struct PartitionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var internedTopic: InternedTopic
    public var partition: Int32

    public init(topic: InternedTopic, partition: Int32) {
        internedTopic = topic
        self.partition = partition
    }

    public init(topic: String, partition: Int32) {
        self.init(topic: InternedTopic(topic), partition: partition)
    }

    public var topic: String { internedTopic.name }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition) }

    public var description: String { "\(topic)[\(partition)]" }
}

/// One consumed record, by position.
public struct EventRef: Hashable, Sendable, CustomStringConvertible {
    public var partition: PartitionID
    public var offset: Int64

    public init(partition: PartitionID, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }

    public init(topic: String, partition: Int32, offset: Int64) {
        self.init(partition: PartitionID(topic: topic, partition: partition), offset: offset)
    }

    public var description: String { "\(partition)@\(offset)" }
}
