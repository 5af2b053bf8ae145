import Prometheus
import SyncBridgeCore

/// The Prometheus metrics of SPEC §5. The registry hands back the same series for the
/// same name and labels, so callers ask for a series where they count.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let latency: DurationHistogram

    init() {
        latency = registry.makeDurationHistogram(
            name: "syncbridge_event_to_trigger_seconds",
            buckets: [
                .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
                .seconds(120), .seconds(300), .seconds(900), .seconds(1800),
            ]
        )
    }

    // Counted per batch by the consumer thread: a registry lookup per record cost about 6 % of the hot path.
    func consumed(topic: String, count: Int) {
        registry.makeCounter(name: "syncbridge_events_consumed_total", labels: [("topic", topic)]).increment(by: Int64(count))
    }
    func matched(rule: String, count: Int) {
        registry.makeCounter(name: "syncbridge_events_matched_total", labels: [("rule", rule)]).increment(by: Int64(count))
    }
    func unmatched(count: Int) { registry.makeCounter(name: "syncbridge_events_unmatched_total").increment(by: Int64(count)) }
    func invalid(_ reason: InvalidReason) {
        registry.makeCounter(name: "syncbridge_events_invalid_total", labels: [("reason", reason.rawValue)]).increment()
    }
    func trigger(target: String, outcome: String) {
        registry.makeCounter(name: "syncbridge_triggers_total", labels: [("target", target), ("outcome", outcome)]).increment()
    }
    func forwarded(target: String, outcome: String) {
        registry.makeCounter(name: "syncbridge_requests_forwarded_total", labels: [("target", target), ("outcome", outcome)]).increment()
    }
    func status(target: String, outcome: String) {
        registry.makeCounter(name: "syncbridge_status_requests_total", labels: [("target", target), ("outcome", outcome)]).increment()
    }
    func deadLetter(reason: String, count: Int) {
        registry.makeCounter(name: "syncbridge_dead_letters_total", labels: [("reason", reason)]).increment(by: Int64(count))
    }
    func covered(latencies: [Duration]) { for value in latencies { latency.record(value) } }
    func pendingIntegrations(target: String, _ count: Int) {
        registry.makeGauge(name: "syncbridge_pending_integrations", labels: [("target", target)]).set(Double(count))
    }
    func uncommitted(_ count: Int) { registry.makeGauge(name: "syncbridge_uncommitted_events").set(Double(count)) }
    func lag(topic: String, partition: Int32, _ value: Int64) {
        registry.makeGauge(name: "syncbridge_consumer_lag", labels: [("topic", topic), ("partition", String(partition))]).set(Double(value))
    }

    func text() -> String { registry.emitToString() }
}
