import Foundation
import Kafka
import SyncBridgeCore

/// The service side of the webhook ingress (`POST /v1/events/{topic}`).
extension SyncService {
    /// Produces a webhook body to a consumed topic (acks=all), for `POST /v1/events/{topic}`.
    /// Throws when the broker has not acknowledged it within `http.ingress_timeout`;
    /// `IngressFailure(error)` says what the caller should be told.
    public func ingest(topic: String, body: [UInt8]) async throws {
        let producer = try ingressProducer.withLock { state -> KafkaProducer in
            guard !state.closed else { throw KafkaError(message: "the service is shutting down") }
            if let producer = state.producer { return producer }
            let producer = try KafkaProducer(bootstrapServers: bootstrapServers, properties: Self.ingressProducerProperties(config))
            state.producer = producer
            return producer
        }
        try await producer.produce(topic: topic, key: nil, value: body)
    }

    /// Room in a record for what librdkafka adds to the value: record and batch headers.
    static let recordOverhead = 64 << 10

    /// The ingress producer's properties: the user's `kafka.properties`, then what the ingress needs.
    static func ingressProducerProperties(_ config: ServiceConfig) -> [String: String] {
        var properties = config.kafka.properties.filter { !consumerOnlyProperties.contains($0.key) }
        // A caller gets its 503 within http.ingress_timeout, not librdkafka's 5-minute default.
        let timeout = Int(min(Double(Int32.max), max(1, config.http.ingressTimeout / .milliseconds(1))))
        properties["message.timeout.ms"] = String(timeout)
        // librdkafka's own cap (1,000,000 bytes) is below the default max_body of 1 MiB; a body
        // that fits max_body must never be refused here.
        let needed = config.http.maxBody + recordOverhead
        properties["message.max.bytes"] = String(max(needed, Int(properties["message.max.bytes"] ?? "") ?? 0))
        // Never create a topic: a name from the path that no broker knows fails instead.
        properties["allow.auto.create.topics"] = "false"
        // How long a missing topic may be "still propagating" before its records fail.
        properties["topic.metadata.propagation.max.ms"] = String(min(2_000, max(1, timeout / 2)))
        // A topic created after start becomes writable within seconds, not minutes.
        properties["topic.metadata.refresh.interval.ms"] = "10000"
        return properties
    }
}

/// Why the broker did not take an ingress record, as the webhook caller should hear it.
enum IngressFailure: Equatable {
    /// The broker (or topic) refused the record as larger than its `message.max.bytes`: a 413, as
    /// resending the same body cannot succeed.
    case tooLargeForBroker
    /// No broker knows the topic.
    case unknownTopic
    /// The broker was unreachable or slow: a 503, worth retrying.
    case unavailable

    init(_ error: any Error) {
        let failure = error as? KafkaError
        if failure?.isRecordTooLarge == true {
            self = .tooLargeForBroker
        } else if failure?.isUnknownTopic == true {
            self = .unknownTopic
        } else {
            self = .unavailable
        }
    }
}
