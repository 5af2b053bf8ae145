import BrazeCDI
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import SyncBridgeCore
import Synchronization

/// The SyncBridge service: the I/O shell around the pure `Coordinator`.
///
/// It owns the process's resources — the embedded broker when `kafka.brokers` is
/// `embedded`, the consumer thread, the dead-letter producer, one Braze client per target
/// and the HTTP endpoints — and wires them to the coordinator. It makes no decisions: what
/// to trigger, when, and what to commit all come from the coordinator's actions.
public final class SyncService: Service, Sendable {
    public let config: ServiceConfig
    let engine: SyncEngine
    let loop: ConsumerLoop
    let producer: KafkaProducer?
    let cluster: EmbeddedKafkaCluster?
    public let bootstrapServers: String
    let logger: Logger
    let ingressAuth: IngressAuth
    /// Whether a shutdown that overruns `shutdown_timeout` ends the process (exit status 1), as
    /// `syncbridge run` wants; embedded uses (the demo, tests) only log it.
    let exitsOnShutdownOverrun: Bool
    /// The webhook ingress's own producer, made on first use: its `message.timeout.ms` is
    /// `http.ingress_timeout`, so a caller gets its 503 in bounded time while dead letters keep
    /// the producer default. Nil after shutdown.
    let ingressProducer = Mutex<(producer: KafkaProducer?, closed: Bool)>((nil, false))

    public init(config: ServiceConfig, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger, observer: SyncObserver? = nil, exitsOnShutdownOverrun: Bool = false) throws {
        self.config = config
        self.exitsOnShutdownOverrun = exitsOnShutdownOverrun
        self.logger = logger
        let clients = try TargetClients(targets: config.targets, environment: environment, logger: logger)
        ingressAuth = try IngressAuth(settings: config.http, environment: environment)
        let limits = Dictionary(uniqueKeysWithValues: config.targets.map {
            ($0.name, TargetLimits(triggers: $0.rateLimit, statuses: $0.statusRateLimit))
        })

        if config.kafka.isEmbedded {
            let cluster = try EmbeddedKafkaCluster(brokers: 1)
            for topic in config.kafka.topics where !topic.hasPrefix("^") { try cluster.createTopic(topic, partitions: 3) }
            if let deadLetter = config.kafka.deadLetterTopic { try cluster.createTopic(deadLetter, partitions: 1) }
            self.cluster = cluster
            bootstrapServers = cluster.bootstrapServers
            logger.notice("embedded broker at \(cluster.bootstrapServers)")
        } else {
            cluster = nil
            bootstrapServers = config.kafka.brokers
        }

        let consumer = try KafkaConsumer(
            bootstrapServers: bootstrapServers, groupID: config.kafka.group, topics: config.kafka.topics,
            properties: Self.consumerProperties(config.kafka)
        )
        let producerProperties = config.kafka.properties.filter { !Self.consumerOnlyProperties.contains($0.key) }
        producer = try KafkaProducer(bootstrapServers: bootstrapServers, properties: producerProperties)

        // A paused target (401/403) is probed rarely: from 30 s (or max_backoff if shorter) doubling up to max_backoff.
        let pausedRetry = RetryPolicy(initialBackoff: min(.seconds(30), config.retry.maxBackoff), maxBackoff: config.retry.maxBackoff)
        let coordinator = Coordinator(
            settings: CoordinatorSettings(targets: limits, retry: config.retry, pausedRetry: pausedRetry),
            seed: UInt64.random(in: 0...UInt64.max)
        )
        engine = SyncEngine(
            coordinator: coordinator, rules: config.rules, clients: clients,
            deadLetters: DeadLetterWriter(producer: producer, topic: config.kafka.deadLetterTopic, logger: logger),
            metrics: ServiceMetrics(), logger: logger, observer: observer
        )
        loop = ConsumerLoop(consumer: consumer, engine: engine, maxUncommitted: config.kafka.maxUncommitted)
    }

    /// The consumer's librdkafka properties: the user's, over defaults suited to a control-plane
    /// consumer that must fail over quickly.
    static func consumerProperties(_ kafka: KafkaSettings) -> [String: String] {
        var defaults = [
            "client.id": "syncbridge",
            // librdkafka's 45 s would leave a killed member's partitions, and their events, unowned that long.
            "session.timeout.ms": "10000",
            "heartbeat.interval.ms": "1000",
        ]
        // A topic created after start that a ^regex entry matches is consumed within seconds, not librdkafka's 5 minutes.
        if kafka.topics.contains(where: { $0.hasPrefix("^") }) { defaults["topic.metadata.refresh.interval.ms"] = "10000" }
        if let instanceID = kafka.instanceID { defaults["group.instance.id"] = instanceID }
        return defaults.merging(kafka.properties) { _, user in user }
    }

    /// Properties librdkafka's producer rejects or warns about.
    static let consumerOnlyProperties: Set<String> = [
        "group.id", "auto.offset.reset", "enable.auto.commit", "enable.auto.offset.store", "partition.assignment.strategy",
        "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms", "group.instance.id", "fetch.min.bytes",
        "fetch.wait.max.ms", "topic.metadata.refresh.interval.ms",
    ]

    /// Runs until graceful shutdown: then stops fetching, triggers every dirty integration
    /// (still under G2 and G4), commits what is covered within `shutdown_timeout`, and leaves the group.
    public func run() async throws {
        loop.start()
        logger.notice("consuming \(config.kafka.topics) as group \(config.kafka.group)")
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.engine.timer.run(self.engine) }
            try? await gracefulShutdown()
            await shutDown()
            engine.timer.stop()
        }
    }

    func shutDown() async {
        let deadline = ContinuousClock.now + config.shutdownTimeout
        let watchdog = ShutdownWatchdog(deadline: deadline, timeout: config.shutdownTimeout, logger: logger, exitsProcess: exitsOnShutdownOverrun)
        watchdog.phase("triggering dirty integrations and waiting for them to be accepted")
        logger.notice("shutting down: triggering dirty integrations and committing covered offsets")
        loop.drain()
        engine.input { $0.beginShutdown(at: $1) }
        // Leave part of the budget for the last commit, leaving the group and flushing dead letters.
        let closing = min(config.shutdownTimeout / 5, .seconds(5))
        while ContinuousClock.now < deadline - closing {
            if engine.coordinator.withLock({ $0.isDrained }), engine.requestsInFlight == 0 { break }
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = engine.coordinator.withLock { $0.uncommittedEvents }
        if left > 0 {
            logger.warning("shutdown_timeout is near with \(left) events not yet covered; they stay uncommitted and are redelivered on restart")
        }
        watchdog.phase("committing covered offsets and leaving the consumer group")
        await loop.stop()
        watchdog.phase("flushing the dead-letter producer")
        engine.stop()
        let flushBudget = max(0, Int((deadline - ContinuousClock.now) / .milliseconds(1)))
        producer?.flush(timeoutMilliseconds: Int32(clamping: flushBudget))
        producer?.close()
        ingressProducer.withLock { state in
            state.closed = true
            return state.producer.take()
        }?.close()
        cluster?.shutdown()
        logger.notice("stopped")
        // Under `syncbridge run` the watchdog stays armed until the process exits, so the HTTP
        // server's own shutdown is bounded too.
        watchdog.phase("stopping the HTTP endpoints")
        if !exitsOnShutdownOverrun { watchdog.disarm() }
    }

    // MARK: - State for endpoints, the demo and tests

    public var metricsText: String { engine.metrics.text() }

    /// Why the service is not ready, or nil when it is.
    public var notReadyReason: String? {
        if !loop.isAssigned { return "no partitions assigned yet" }
        let paused = engine.paused
        if !paused.isEmpty { return "target paused after HTTP \(paused.map { "\($0.value) (\($0.key))" }.sorted().joined(separator: ", ")); check its API key and permissions" }
        return nil
    }

    public var uncommittedEvents: Int { engine.coordinator.withLock { $0.uncommittedEvents } }

    /// How many partitions are paused for backpressure (`kafka.max_uncommitted`).
    public var throttledPartitionCount: Int { loop.throttledPartitions.count }

    /// Swaps the rules (SIGHUP or a changed `rules_file`): integrations disabled by 400/404 may be called again.
    ///
    /// Only the mapping of new events changes. Events already waiting keep their integrations,
    /// even ones the new rules no longer name, so a reload loses nothing (G1).
    public func replaceRules(_ rules: RuleSet) {
        engine.rules.withLock { $0 = rules }
        engine.input { coordinator, _ in
            coordinator.rulesChanged()
            return []
        }
    }

    /// Reads `configPath` again and swaps in its rules: the reload behind SIGHUP and a changed
    /// `rules_file`. On any problem the running rules stay and the problems come back as
    /// `file:line: message` (G9). Other settings need a restart; rules may only name targets
    /// this process already has.
    @discardableResult
    public func reloadRules(from configPath: String, environment: [String: String] = ProcessInfo.processInfo.environment, reason: String) -> Result<RuleSet, ConfigErrors> {
        let fresh: ServiceConfig
        do {
            fresh = try ConfigLoader.load(path: configPath, environment: environment)
        } catch {
            logger.error("rules reload (\(reason)) refused; the previous rules keep running:\n\(error.description)")
            return .failure(error)
        }
        let running = Set(config.targets.map(\.name))
        let unknown = fresh.rules.rules.filter { !running.contains($0.target) }
        guard unknown.isEmpty else {
            let errors = ConfigErrors(unknown.map {
                ConfigIssue(file: fresh.rulesFile, line: $0.line, message: "rule '\($0.name)' uses target '\($0.target)', which this process was not started with; restart to add targets")
            })
            logger.error("rules reload (\(reason)) refused; the previous rules keep running:\n\(errors.description)")
            return .failure(errors)
        }
        replaceRules(fresh.rules)
        logger.notice("rules reloaded (\(reason)): \(fresh.rules.rules.count) rules from \(fresh.rulesFile)")
        return .success(fresh.rules)
    }
}

/// Reads a secret (a Braze API key, a webhook secret) from its environment variable or file.
/// Secrets never live in the config (G10); a trailing newline from `echo` or an editor is dropped.
public enum SecretLoader {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameters:
    ///   - owner: the setting, for messages: "target braze", "http.ingress_hmac".
    ///   - contents: what belongs there, for messages: "the Braze REST API key".
    public static func load(_ source: APIKeySource, owner: String, contents: String, environment: [String: String]) throws -> String {
        let text: String
        switch source {
        case .environment(let name):
            guard let value = environment[name] else {
                throw Missing(description: "\(owner): environment variable \(name) is not set; export \(contents) there")
            }
            text = value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let value = String(data: data, encoding: .utf8) else {
                throw Missing(description: "\(owner): cannot read \(path); check the path and its permissions")
            }
            text = value
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw Missing(description: "\(owner): \(source) is empty; put \(contents) there") }
        return secret
    }

    /// A target's Braze REST API key.
    public static func apiKey(for target: TargetSettings, environment: [String: String]) throws -> String {
        try load(
            target.apiKeySource, owner: "target \(target.name)",
            contents: "the Braze REST API key (with the cdi.integration_sync and cdi.integration_job_status permissions)",
            environment: environment
        )
    }
}
