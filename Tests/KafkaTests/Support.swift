import Foundation
import Kafka
import Synchronization
import Testing

/// Settings that make group membership react quickly on the embedded cluster. Its coordinator waits
/// (session timeout - 1s) for members to rejoin, and 3s on a group's first join, during which members
/// send no heartbeats: the session timeout must comfortably exceed 3s or members keep expiring.
let quickGroup = [
    "session.timeout.ms": "4500",
    "heartbeat.interval.ms": "100",
    "topic.metadata.refresh.interval.ms": "500",
    "fetch.wait.max.ms": "50",
    "reconnect.backoff.max.ms": "200",
]

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func text(_ bytes: [UInt8]?) -> String? { bytes.map { String(decoding: $0, as: UTF8.self) } }

func makeConsumer(_ cluster: EmbeddedKafkaCluster, group: String, topics: [String]) throws -> KafkaConsumer {
    try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, groupID: group, topics: topics, properties: quickGroup)
}

func makeProducer(_ cluster: EmbeddedKafkaCluster) throws -> KafkaProducer {
    try KafkaProducer(
        bootstrapServers: cluster.bootstrapServers,
        properties: ["message.timeout.ms": "15000", "reconnect.backoff.max.ms": "200", "linger.ms": "5"])
}

/// Tracks what one consumer saw and which partitions it currently holds.
final class Observed {
    var messages: [KafkaMessage] = []
    var assignment: Set<TopicPartition> = []
    var assignedEvents: [[TopicPartition]] = []
    var revokedEvents: [[TopicPartition]] = []
    var errors: [String] = []
    var committed: [TopicPartition: Int64] = [:]

    func record(_ event: ConsumerEvent) {
        switch event {
        case .message(let message): messages.append(message)
        case .assigned(let partitions):
            assignedEvents.append(partitions)
            assignment.formUnion(partitions)
        case .revoked(let partitions):
            revokedEvents.append(partitions)
            assignment.subtract(partitions)
        case .committed(let offsets): committed.merge(offsets) { max($0, $1) }
        case .error(let reason): errors.append(reason)
        }
    }
}

/// Polls `consumers` in turn until `done` holds or `seconds` pass; returns whether `done` held.
/// Bounded so a broken rebalance fails the test instead of hanging it; generous because each
/// rebalance on the embedded cluster takes a few seconds and librdkafka sometimes rejoins twice.
@discardableResult
func pollUntil(
    _ consumers: [(KafkaConsumer, Observed)], seconds: Double = 30, _ done: () -> Bool
) -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if done() { return true }
        for (consumer, observed) in consumers {
            if let event = consumer.poll(timeoutMilliseconds: 50) { observed.record(event) }
        }
    }
    return done()
}

/// Keeps polling for `seconds` to catch anything delivered that should not have been.
func drain(_ consumer: KafkaConsumer, into observed: Observed, seconds: Double) {
    pollUntil([(consumer, observed)], seconds: seconds) { false }
}

/// Polls one consumer on a thread of its own, as each member of a group does in production: a
/// member blocked in its rebalance callback then holds up nobody else's part of the rebalance.
final class BackgroundPoller: @unchecked Sendable {
    private let consumer: KafkaConsumer
    private let lock = NSLock()
    private let observed = Observed()
    private let running = Atomic(true)
    private let finished = DispatchSemaphore(value: 0)

    init(_ consumer: KafkaConsumer) {
        self.consumer = consumer
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) {
                if let event = consumer.poll(timeoutMilliseconds: 50) { lock.withLock { observed.record(event) } }
            }
            finished.signal()
        }
        thread.start()
    }

    func read<R>(_ body: (Observed) -> R) -> R { lock.withLock { body(observed) } }

    /// Stops polling; the consumer may then be used (and closed) on the caller's thread.
    func stop() {
        guard running.exchange(false, ordering: .acquiringAndReleasing) else { return }
        finished.wait()
    }
}
