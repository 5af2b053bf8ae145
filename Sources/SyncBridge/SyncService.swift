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
/// `embedded`, the consumer threads, the dead-letter producer, the state store, one Braze
/// client per target and the HTTP endpoints — and wires them to the coordinator: one engine
/// in direct mode, and in partitioned mode a forwarding engine (stage one) in front of it.
/// It makes no decisions: what to trigger, when, and what to commit all come from the
/// coordinator's actions.
public final class SyncService: Service, Sendable {
    public let config: ServiceConfig
    /// The scheduler: Braze calls for what `loop` consumes (direct mode: the source topics;
    /// partitioned mode: the requests partitions this member owns).
    let engine: SyncEngine
    let loop: ConsumerLoop
    /// Partitioned mode's stage one: the source topics, forwarded as request records.
    let forwarding: (engine: SyncEngine, loop: ConsumerLoop)?
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

    public init(
        config: ServiceConfig, environment: [String: String] = ProcessInfo.processInfo.environment, logger: Logger, observer: SyncObserver? = nil,
        exitsOnShutdownOverrun: Bool = false
    ) throws {
        self.config = config
        self.exitsOnShutdownOverrun = exitsOnShutdownOverrun
        self.logger = logger
        let clients = try TargetClients(targets: config.targets, environment: environment, logger: logger)
        ingressAuth = try IngressAuth(settings: config.http, environment: environment)
        let limits = Dictionary(
            uniqueKeysWithValues: config.targets.map {
                ($0.name, TargetLimits(triggers: $0.rateLimit, statuses: $0.statusRateLimit))
            })

        if config.kafka.isEmbedded {
            let cluster = try EmbeddedKafkaCluster(brokers: 1)
            for topic in config.kafka.topics where !topic.hasPrefix("^") { try cluster.createTopic(topic, partitions: 3) }
            if let deadLetter = config.kafka.deadLetterTopic { try cluster.createTopic(deadLetter, partitions: 1) }
            if let stateTopic = config.kafka.stateTopic { try cluster.createTopic(stateTopic, partitions: 1) }
            if config.kafka.mode == .partitioned { try cluster.createTopic(config.kafka.requestsTopic, partitions: Self.defaultRequestsPartitions) }
            self.cluster = cluster
            bootstrapServers = cluster.bootstrapServers
            logger.notice("embedded broker at \(cluster.bootstrapServers)")
        } else {
            cluster = nil
            bootstrapServers = config.kafka.brokers
        }

        let sourceConsumer = try KafkaConsumer(
            bootstrapServers: bootstrapServers, groupID: config.kafka.group, topics: config.kafka.topics,
            properties: Self.consumerProperties(config.kafka)
        )
        let producerProperties = config.kafka.properties.filter { !Self.consumerOnlyProperties.contains($0.key) }
        let producer = try KafkaProducer(bootstrapServers: bootstrapServers, properties: producerProperties)
        self.producer = producer
        let deadLetters = DeadLetterWriter(producer: producer, topic: config.kafka.deadLetterTopic, logger: logger)
        let metrics = ServiceMetrics()

        let servers = bootstrapServers
        let stateStore = try config.kafka.stateTopic.map { stateTopic in
            _ = try KafkaTopics.ensure(
                bootstrapServers: servers, properties: producerProperties, topic: stateTopic, partitions: 1,
                config: ["cleanup.policy": "compact", "min.compaction.lag.ms": "60000"]
            )
            return try SchedulingStateStore(topic: stateTopic, bootstrapServers: servers, properties: config.kafka.properties, logger: logger)
        }

        let coordinator = Coordinator(
            settings: CoordinatorSettings(targets: limits, retry: config.retry, sendMargin: Self.sendMargin),
            seed: UInt64.random(in: 0...UInt64.max)
        )
        let engine = SyncEngine(
            coordinator: coordinator, stateStore: stateStore, rules: config.rules, clients: clients,
            deadLetters: deadLetters, metrics: metrics, logger: logger, observer: config.kafka.mode == .direct ? observer : nil
        )
        self.engine = engine

        let internalTopics = Set([config.kafka.stateTopic, config.kafka.mode == .partitioned ? config.kafka.requestsTopic : nil].compactMap { $0 })
        switch config.kafka.mode {
        case .direct:
            forwarding = nil
            loop = ConsumerLoop(
                consumer: sourceConsumer, engine: engine, maxUncommitted: config.kafka.maxUncommitted, records: .events(skipping: internalTopics))
            // One process schedules every target: it takes each one's state over before anything is consumed.
            stateStore?.restore(config.targets.map(\.name), into: engine)
        case .partitioned:
            let targetNames = config.targets.map(\.name)
            let requestPartitions = try KafkaTopics.ensure(
                bootstrapServers: bootstrapServers, properties: producerProperties, topic: config.kafka.requestsTopic,
                partitions: Self.defaultRequestsPartitions
            )
            let codec = RequestCodec(targets: Set(targetNames))
            let forwarder = RequestForwarder(topic: config.kafka.requestsTopic, partitions: requestPartitions, producer: producer, codec: codec)
            let forwardLimits = Dictionary(
                uniqueKeysWithValues: targetNames.map {
                    ($0, TargetLimits(triggers: Self.unlimited, statuses: Self.unlimited, forwardEvery: Self.flushInterval))
                })
            let stageOne = SyncEngine(
                coordinator: Coordinator(
                    settings: CoordinatorSettings(targets: forwardLimits, retry: config.retry), seed: UInt64.random(in: 0...UInt64.max)),
                role: .forwarder(forwarder), rules: config.rules, clients: clients,
                deadLetters: deadLetters, metrics: metrics, logger: logger, observer: observer
            )
            forwarding = (
                stageOne,
                ConsumerLoop(
                    consumer: sourceConsumer, engine: stageOne, maxUncommitted: config.kafka.maxUncommitted,
                    records: .events(skipping: internalTopics))
            )

            let byPartition = RequestPartitioner.targetsByPartition(targetNames, count: requestPartitions)
            let targetsOf: @Sendable ([TopicPartition]) -> [String] = { partitions in partitions.flatMap { byPartition[$0.partition] ?? [] } }
            let hooks = ConsumerLoop.OwnershipHooks(
                assigned: { partitions in
                    let targets = targetsOf(partitions)
                    guard !targets.isEmpty else { return }
                    stateStore?.restore(targets, into: engine)
                    logger.notice(
                        "now scheduling \(targets.sorted().map { "target \($0)" }.joined(separator: ", ")) (requests partitions \(partitions.map(\.partition).sorted()))"
                    )
                },
                revoking: { partitions in
                    let targets = targetsOf(partitions)
                    guard let stateStore, !targets.isEmpty else { return }
                    if !stateStore.writeNow(targets, engine: engine, timeout: .seconds(5)) {
                        logger.warning(
                            "handing over \(targets): the state record was not acknowledged in time; the next owner may start from an older one")
                    }
                },
                revoked: { partitions in
                    let targets = targetsOf(partitions)
                    guard !targets.isEmpty else { return }
                    stateStore?.release(targets)
                    logger.notice(
                        "no longer scheduling \(targets.sorted().map { "target \($0)" }.joined(separator: ", ")): handed over with the requests partitions"
                    )
                }
            )
            let requestsConsumer = try KafkaConsumer(
                bootstrapServers: bootstrapServers, groupID: config.kafka.requestsGroup, topics: [config.kafka.requestsTopic],
                properties: Self.consumerProperties(config.kafka).filter { $0.key != "group.instance.id" }
                    .merging(config.kafka.instanceID.map { ["group.instance.id": "\($0).requests"] } ?? [:]) { _, new in new }
            )
            loop = ConsumerLoop(
                consumer: requestsConsumer, engine: engine, maxUncommitted: config.kafka.maxUncommitted,
                records: .requests(codec), hooks: hooks
            )
        }
    }

    /// Partitions of a requests topic SyncBridge creates: more than the replicas one would run, so
    /// workspaces spread over them; a partition carries every request of its workspaces.
    static let defaultRequestsPartitions: Int32 = 12
    /// How often stage one flushes a dirty integration as a request record.
    static let flushInterval = Duration.milliseconds(100)
    static let unlimited = RateLimit(count: 1_000_000, window: .seconds(1))
    /// Padding on Braze's windows: a call leaves up to the state write-ahead's wait after its token
    /// is spent, plus connection set-up; 1 s of a 60 s window costs under 2 % of the budget.
    static let sendMargin = SchedulingStateStore.writeAheadWait + .milliseconds(500)

    /// The consumer's librdkafka properties: the user's, over defaults suited to a control-plane
    /// consumer that must fail over quickly.
    static func consumerProperties(_ kafka: KafkaSettings) -> [String: String] {
        var defaults = [
            "client.id": "syncbridge",
            // librdkafka's 45 s would leave a killed member's partitions, and their events, unowned that long.
            "session.timeout.ms": "10000",
            "heartbeat.interval.ms": "1000",
            "queued.min.messages": String(KafkaSettings.defaultQueuedMinMessages),
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
        "fetch.wait.max.ms", "topic.metadata.refresh.interval.ms", "auto.commit.interval.ms", "enable.partition.eof", "queued.min.messages",
        "queued.max.messages.kbytes",
    ]

    /// Runs until graceful shutdown: then stops fetching, triggers every dirty integration
    /// (still under G2 and G4), commits what is covered within `shutdown_timeout`, and leaves the group.
    public func run() async throws {
        loop.start()
        forwarding?.loop.start()
        if config.kafka.mode == .partitioned {
            logger.notice(
                "partitioned mode: consuming \(config.kafka.topics) as group \(config.kafka.group), forwarding to \(config.kafka.requestsTopic), scheduling the workspaces whose requests partitions group \(config.kafka.requestsGroup) assigns here"
            )
        } else {
            logger.notice("consuming \(config.kafka.topics) as group \(config.kafka.group)")
        }
        let engines = [engine, forwarding?.engine].compactMap { $0 }
        await withTaskGroup(of: Void.self) { group in
            for engine in engines {
                group.addTask { await engine.requests.run() }
                group.addTask { await engine.timer.run(engine) }
            }
            if let store = engine.stateStore {
                group.addTask {
                    // At least every second: a crash costs at most this much of the record's age.
                    while !Task.isCancelled {
                        try? await Task.sleep(for: .seconds(1))
                        if Task.isCancelled { break }
                        await store.write(engine: self.engine, wait: nil)
                    }
                }
            }
            try? await gracefulShutdown()
            await shutDown()
            for engine in engines {
                engine.timer.stop()
                engine.requests.close()
            }
            // Whatever still runs (a call Braze has not answered) is cancelled and awaited.
            group.cancelAll()
        }
    }

    func shutDown() async {
        let deadline = ContinuousClock.now + config.shutdownTimeout
        let watchdog = ShutdownWatchdog(deadline: deadline, timeout: config.shutdownTimeout, logger: logger, exitsProcess: exitsOnShutdownOverrun)
        watchdog.phase("triggering dirty integrations and waiting for them to be accepted")
        logger.notice("shutting down: triggering dirty integrations and committing covered offsets")
        // Leave part of the budget for the last commit, leaving the group and flushing dead letters.
        let closing = min(config.shutdownTimeout / 5, .seconds(5))
        if let stageOne = forwarding {
            // Stage one first, while this member's stage two still consumes what it forwards.
            watchdog.phase("forwarding the last requests")
            await settle(stageOne.engine, stageOne.loop, until: deadline - closing - (config.shutdownTimeout - closing) / 2)
            await stageOne.loop.stop()
            stageOne.engine.stop()
        }
        watchdog.phase("triggering dirty integrations and waiting for them to be accepted")
        await settle(engine, loop, until: deadline - closing)
        let left = engine.coordinator.withLock { $0.uncommittedEvents }
        if left > 0 {
            logger.warning("shutdown_timeout is near with \(left) events not yet covered; they stay uncommitted and are redelivered on restart")
        }
        if let store = engine.stateStore {
            watchdog.phase("writing the scheduling state")
            await store.write(engine: engine, wait: min(.seconds(2), max(.zero, deadline - ContinuousClock.now)))
        }
        watchdog.phase("committing covered offsets and leaving the consumer group")
        await loop.stop()
        watchdog.phase("flushing the dead-letter producer")
        engine.stop()
        engine.stateStore?.close()
        let flushBudget = max(0, Int((deadline - ContinuousClock.now) / .milliseconds(1)))
        await producer?.flushed(timeoutMilliseconds: Int32(clamping: flushBudget))
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

    /// Stops fetching, triggers (or forwards) everything dirty, and waits until it is covered or `until`.
    private func settle(_ engine: SyncEngine, _ loop: ConsumerLoop, until: ContinuousClock.Instant) async {
        loop.drain()
        engine.input { $0.beginShutdown(at: $1) }
        // Every change towards drained ends a request: its completion is the moment to look again.
        while ContinuousClock.now < until {
            let (inFlight, completed) = engine.requests.progress
            if inFlight == 0, engine.coordinator.withLock({ $0.isDrained }) { break }
            await engine.requests.waitForCompletion(after: completed, until: until)
        }
    }

    // MARK: - State for endpoints, the demo and tests

    public var metricsText: String { engine.metrics.text() }

    /// Why the service is not ready, or nil when it is.
    public var notReadyReason: String? {
        if !(forwarding?.loop ?? loop).isAssigned { return "no partitions assigned yet" }
        let paused = engine.paused
        if !paused.isEmpty {
            return
                "target paused after HTTP \(paused.map { "\($0.value) (\($0.key))" }.sorted().joined(separator: ", ")); check its API key and permissions"
        }
        return nil
    }

    /// Source events consumed and not yet covered (partitioned mode: not yet forwarded, or
    /// forwarded in requests this member's stage two still waits on).
    public var uncommittedEvents: Int {
        (forwarding?.engine.coordinator.withLock { $0.uncommittedEvents } ?? 0) + engine.coordinator.withLock { $0.uncommittedEvents }
    }

    /// The operator's view (`GET /v1/integrations`): one consistent snapshot of the scheduler's
    /// coordinator, taken under its lock; `integrationID` narrows it to one ID, with its history.
    public func integrationsDocument(integrationID: String? = nil) -> IntegrationsDocument {
        let (snapshot, clock) = engine.coordinator.withLock { coordinator in
            let now = engine.clock.now()
            return (coordinator.snapshot(at: now, integrationID: integrationID), WallClock(now: now, epochNow: Date().timeIntervalSince1970))
        }
        let rules = engine.rules.withLock { $0.rules }
        return IntegrationsDocument(snapshot, clock: clock, mode: config.kafka.mode.rawValue, rules: rules)
    }

    /// How many partitions are paused for backpressure (`kafka.max_uncommitted`).
    public var throttledPartitionCount: Int { (forwarding?.loop ?? loop).throttledPartitions.count }

    /// Swaps the rules (SIGHUP or a changed `rules_file`): integrations disabled by 400/404 may be called again.
    ///
    /// Only the mapping of new events changes. Events already waiting keep their integrations,
    /// even ones the new rules no longer name, so a reload loses nothing (G1).
    public func replaceRules(_ rules: RuleSet) {
        for engine in [engine, forwarding?.engine].compactMap({ $0 }) {
            engine.rules.withLock { $0 = rules }
            engine.rulesVersion.add(1, ordering: .releasing)
            engine.input { coordinator, _ in
                coordinator.rulesChanged()
                return []
            }
        }
    }

    /// Reads `configPath` again and swaps in its rules: the reload behind SIGHUP and a changed
    /// `rules_file`. On any problem the running rules stay and the problems come back as
    /// `file:line: message` (G9). Other settings need a restart; rules may only name targets
    /// this process already has.
    @discardableResult
    public func reloadRules(
        from configPath: String, environment: [String: String] = ProcessInfo.processInfo.environment, reason: String
    ) -> Result<RuleSet, ConfigErrors> {
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
            let errors = ConfigErrors(
                unknown.map {
                    ConfigIssue(
                        file: fresh.rulesFile, line: $0.line,
                        message: "rule '\($0.name)' uses target '\($0.target)', which this process was not started with; restart to add targets")
                })
            logger.error("rules reload (\(reason)) refused; the previous rules keep running:\n\(errors.description)")
            return .failure(errors)
        }
        replaceRules(fresh.rules)
        logger.notice("rules reloaded (\(reason)): \(fresh.rules.rules.count) rules from \(fresh.rulesFile)")
        return .success(fresh.rules)
    }
}
