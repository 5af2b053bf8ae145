import Foundation
import Kafka
import SyncBridgeCore

/// The service side of the webhook ingress (`POST /v1/events/{topic}`).
extension SyncService {
    /// Produces a webhook body to a consumed topic (acks=all), for `POST /v1/events/{topic}`.
    /// Throws when the broker has not acknowledged it within `http.ingress_timeout`.
    public func ingest(topic: String, body: [UInt8]) async throws {
        let producer = try ingressProducer.withLock { state -> KafkaProducer in
            guard !state.closed else { throw KafkaError(message: "the service is shutting down") }
            if let producer = state.producer { return producer }
            var properties = config.kafka.properties.filter { !Self.consumerOnlyProperties.contains($0.key) }
            properties["message.timeout.ms"] = String(max(1, Int(config.http.ingressTimeout / .milliseconds(1))))
            let producer = try KafkaProducer(bootstrapServers: bootstrapServers, properties: properties)
            state.producer = producer
            return producer
        }
        try await producer.produce(topic: topic, key: nil, value: body)
    }

    /// Whether `topic` is one the service consumes (by name or `^regex`).
    public func consumes(topic: String) -> Bool {
        config.kafka.topics.contains { pattern in
            pattern.hasPrefix("^") ? ((try? TextMatcher(pattern))?.matches(topic) ?? false) : pattern == topic
        }
    }
}
