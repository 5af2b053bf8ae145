import Kafka
import Logging
import SyncBridgeCore

/// Writes dead letters to `kafka.dead_letter_topic` with reason headers; without a topic,
/// logs them (the events are still counted and committed).
struct DeadLetterWriter: Sendable {
    let producer: KafkaProducer?
    let topic: String?
    let logger: Logger

    /// False without a dead-letter topic: then dead letters are only logged, by position.
    var writesRecords: Bool { producer != nil && topic != nil }

    func write(_ order: DeadLetterOrder, payloads: PayloadStore) async throws {
        guard let producer, let topic else {
            logger.warning(
                "dead-lettered events without a dead_letter_topic: \(order.events.map(\.description).joined(separator: ", "))",
                metadata: ["reason": "\(order.reason)", "events": "\(order.events.count)"]
                    .merging(order.integration.map { $0.logMetadata() } ?? [:]) { $1 }
            )
            return
        }
        for event in order.events {
            let original = payloads.message(for: event)
            var headers = original?.headers ?? []
            headers.append(KafkaHeader(name: "syncbridge.reason", value: Array(order.reason.utf8)))
            if let integration = order.integration {
                headers.append(KafkaHeader(name: "syncbridge.integration_id", value: Array(integration.integrationID.utf8)))
                headers.append(KafkaHeader(name: "syncbridge.target", value: Array(integration.target.utf8)))
            }
            if let status = order.status { headers.append(KafkaHeader(name: "syncbridge.status", value: Array(String(status).utf8))) }
            headers.append(KafkaHeader(name: "syncbridge.source.topic", value: Array(event.partition.topic.utf8)))
            headers.append(KafkaHeader(name: "syncbridge.source.partition", value: Array(String(event.partition.partition).utf8)))
            headers.append(KafkaHeader(name: "syncbridge.source.offset", value: Array(String(event.offset).utf8)))
            try await producer.produce(topic: topic, key: original?.key, value: original?.value, headers: headers)
        }
    }
}
