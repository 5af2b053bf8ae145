import Prometheus
import SyncBridgeCore
import Synchronization

/// The Prometheus metrics of SPEC §5. The registry hands back the same series for the
/// same name and labels, so callers ask for a series where they count.
final class ServiceMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let latency: DurationHistogram
    private let consumedByTopic: CounterFamily
    private let matchedByRule: CounterFamily

    init() {
        consumedByTopic = CounterFamily(registry, name: "syncbridge_events_consumed_total", label: "topic")
        matchedByRule = CounterFamily(registry, name: "syncbridge_events_matched_total", label: "rule")
        latency = registry.makeDurationHistogram(
            name: "syncbridge_event_to_trigger_seconds",
            buckets: [
                .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
                .seconds(120), .seconds(300), .seconds(900), .seconds(1800),
            ]
        )
    }

    // Counted per batch by the consumer thread: a registry lookup per record cost about 6 % of the hot path.
    func consumed(topic: String, count: Int) { consumedByTopic[topic].increment(by: Int64(count)) }
    func matched(rule: String, count: Int) { matchedByRule[rule].increment(by: Int64(count)) }
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

/// The counters of one metric name told apart by one label, each resolved from the registry
/// once: the registry validates the name and builds the label key on every look-up, which at
/// 100 % matching (a batch's records reach many rules) cost about 5 % of the consumer thread.
private final class CounterFamily: Sendable {
    private let registry: PrometheusCollectorRegistry
    private let name: String
    private let label: String
    private let counters = Mutex<[String: Counter]>([:])

    init(_ registry: PrometheusCollectorRegistry, name: String, label: String) {
        self.registry = registry
        self.name = name
        self.label = label
    }

    subscript(value: String) -> Counter {
        if let counter = counters.withLock({ $0[value] }) { return counter }
        let counter = registry.makeCounter(name: name, labels: [(label, value)])
        counters.withLock { $0[value] = counter }
        return counter
    }
}
