import CRdKafka
import Foundation
import Synchronization

/// librdkafka's built-in mock cluster: real Kafka-protocol brokers on loopback, in this process.
/// For tests and local demos; data lives in memory and is gone after `shutdown`.
public final class EmbeddedKafkaCluster: @unchecked Sendable {
    /// The client that owns the mock cluster; librdkafka requires one for bookkeeping.
    private let owner: OpaquePointer
    private let cluster: OpaquePointer
    private let isShutDown = Mutex(false)
    public let bootstrapServers: String

    /// Starts `brokers` brokers with ids 1 through `brokers`.
    public init(brokers: Int = 1) throws {
        // This client never connects anywhere, so silence its notice about having no bootstrap servers.
        let conf = try RDKafkaConfiguration.make(["log_level": "4"])
        owner = try RDKafkaConfiguration.makeHandle(RD_KAFKA_PRODUCER, conf, role: "mock cluster owner")
        guard let cluster = rd_kafka_mock_cluster_new(owner, Int32(brokers)) else {
            rd_kafka_destroy(owner)
            throw KafkaError(message: "cannot start embedded Kafka cluster with \(brokers) broker(s); use at least one broker.")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit { shutdown() }

    public func createTopic(_ name: String, partitions: Int32, replicationFactor: Int32 = 1) throws {
        try check(
            rd_kafka_mock_topic_create(cluster, name, partitions, replicationFactor),
            "cannot create topic '\(name)' (replication factor must not exceed the broker count)")
    }

    /// Disconnects broker `id` and refuses new connections, without moving partition leadership.
    public func setBrokerDown(_ id: Int32) throws {
        try check(rd_kafka_mock_broker_set_down(cluster, id), "cannot take broker \(id) down")
    }

    public func setBrokerUp(_ id: Int32) throws {
        try check(rd_kafka_mock_broker_set_up(cluster, id), "cannot bring broker \(id) up")
    }

    /// Delays every response of broker `id` by `milliseconds`: a broker that is reachable but
    /// answers nothing in time, so every blocking call to it (a commit, a close) waits.
    public func setBrokerRoundTrip(_ id: Int32, milliseconds: Int32) throws {
        try check(rd_kafka_mock_broker_set_rtt(cluster, id, milliseconds), "cannot delay broker \(id)")
    }

    /// Makes the next `errors.count` requests with Kafka protocol `apiKey` (e.g. 0 = Produce) fail
    /// with these error codes, in order.
    public func pushRequestErrors(apiKey: Int16, errors: [Int32]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0) }
        rd_kafka_mock_push_request_errors_array(cluster, apiKey, codes.count, codes)
    }

    /// Forgets the errors still queued for requests with Kafka protocol `apiKey`.
    public func clearRequestErrors(apiKey: Int16) {
        rd_kafka_mock_clear_request_errors(cluster, apiKey)
    }

    /// Stops the brokers. Close clients first, or they will log connection errors. Idempotent.
    public func shutdown() {
        isShutDown.withLock { isShutDown in
            guard !isShutDown else { return }
            isShutDown = true
            rd_kafka_mock_cluster_destroy(cluster)
            rd_kafka_destroy(owner)
        }
    }

    private func check(_ error: rd_kafka_resp_err_t, _ context: String) throws {
        if error != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError("embedded Kafka: \(context)", error) }
    }
}
