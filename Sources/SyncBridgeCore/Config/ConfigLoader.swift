import Foundation
import Yams

/// Reads and validates config and rules files, reporting every problem as `file:line: message` (G9).
public enum ConfigLoader {
    static let topLevelKeys = ["kafka", "targets", "coalesce", "retry", "shutdown_timeout", "http", "rules", "rules_file"]
    static let kafkaKeys = [
        "brokers", "group", "topics", "dead_letter_topic", "properties", "mode", "max_uncommitted", "instance_id", "requests_topic", "state_topic",
    ]
    static let targetKeys = ["name", "endpoint", "api_key_env", "api_key_file", "rate_limit", "status_rate_limit", "timeout"]
    static let coalesceKeys = ["quiet", "max_delay"]
    static let retryKeys = ["initial_backoff", "max_backoff"]
    static let httpKeys = [
        "listen", "ingress_tokens", "admin_tokens", "ingress_hmac", "ingress_timeout", "max_body",
        "max_connections", "max_inflight_body", "idle_timeout", "header_timeout", "read_timeout",
    ]
    static let hmacKeys = ["secret_env", "secret_file", "header"]

    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigErrors) -> ServiceConfig {
        let text = try readFile(path, referencedFrom: nil)
        return try load(text: text, file: path, environment: environment)
    }

    public static func load(text: String, file: String, environment: [String: String] = [:]) throws(ConfigErrors) -> ServiceConfig {
        let (composed, duplicateKeys) = try ConfigNodeWalker.compose(text, file: file)
        guard let root = composed else {
            throw ConfigErrors([ConfigIssue(file: file, line: 1, message: "the config file is empty; see the README for a minimal example")])
        }
        var reader = ConfigNodeWalker(file: file, environment: environment)
        reader.issues = duplicateKeys
        guard let top = reader.mapping(root, named: "the config", allowed: topLevelKeys) else { throw ConfigErrors(reader.issues) }

        let kafka = readKafka(top["kafka"], root: root, &reader)
        let targets = readTargets(top["targets"], root: root, &reader)
        let coalesce = readCoalesce(top["coalesce"], &reader) ?? CoalescePolicy.default
        var retry = RetryPolicy.default
        if let node = top["retry"], let entries = reader.mapping(node, named: "retry", allowed: retryKeys) {
            if let value = entries["initial_backoff"].flatMap({ reader.duration($0, named: "retry.initial_backoff") }) {
                retry.initialBackoff = value
            }
            if let value = entries["max_backoff"].flatMap({ reader.duration($0, named: "retry.max_backoff") }) { retry.maxBackoff = value }
            if retry.maxBackoff < retry.initialBackoff { reader.report(node, "retry.max_backoff must not be shorter than retry.initial_backoff") }
        }
        let shutdownTimeout = top["shutdown_timeout"].flatMap { reader.duration($0, named: "shutdown_timeout") } ?? .seconds(30)
        let http = readHTTP(top["http"], &reader)

        var rulesFile = file
        var ruleSet = RuleSet(rules: [])
        let targetNames = targets.map(\.name)
        switch (top["rules"], top["rules_file"]) {
        case (let node?, nil):
            ruleSet = RuleParser.parse(node, reader: &reader, targets: targetNames, defaultCoalesce: coalesce)
        case (nil, let node?):
            if let path = reader.string(node, named: "rules_file") {
                rulesFile = resolve(path, relativeTo: file)
                do {
                    ruleSet = try loadRules(path: rulesFile, environment: environment, targets: targetNames, defaultCoalesce: coalesce)
                } catch {
                    reader.issues += error.issues
                }
            }
        case (_?, let node?):
            reader.report(node, "give either rules or rules_file, not both")
        case (nil, nil):
            reader.report(root, "no rules: add a rules list or rules_file; see the README for examples")
        }

        guard reader.issues.isEmpty, let kafka else { throw ConfigErrors(reader.issues) }
        return ServiceConfig(
            kafka: kafka, targets: targets, coalesce: coalesce, retry: retry,
            shutdownTimeout: shutdownTimeout, http: http, rules: ruleSet,
            rulesFile: rulesFile, configFile: file
        )
    }

    /// Loads a `rules_file`: a YAML list of rules.
    public static func loadRules(
        path: String, environment: [String: String], targets: [String], defaultCoalesce: CoalescePolicy
    ) throws(ConfigErrors) -> RuleSet {
        let text = try readFile(path, referencedFrom: nil)
        var reader = ConfigNodeWalker(file: path, environment: environment)
        let (composed, duplicateKeys) = try ConfigNodeWalker.compose(text, file: path)
        guard let root = composed else {
            throw ConfigErrors([ConfigIssue(file: path, line: 1, message: "the rules file is empty; it must be a YAML list of rules")])
        }
        reader.issues = duplicateKeys
        let rules = RuleParser.parse(root, reader: &reader, targets: targets, defaultCoalesce: defaultCoalesce)
        guard reader.issues.isEmpty else { throw ConfigErrors(reader.issues) }
        return rules
    }

    static func readFile(_ path: String, referencedFrom: String?) throws(ConfigErrors) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigErrors([ConfigIssue(file: path, line: 0, message: "cannot read the file; check the path and its permissions")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigErrors([ConfigIssue(file: path, line: 1, message: "the file is not UTF-8 text")])
        }
        return text
    }

    static func resolve(_ path: String, relativeTo file: String) -> String {
        guard !path.hasPrefix("/") else { return path }
        let directory = (file as NSString).deletingLastPathComponent
        return directory.isEmpty ? path : (directory as NSString).appendingPathComponent(path)
    }

    private static func readKafka(_ node: Node?, root: Node, _ reader: inout ConfigNodeWalker) -> KafkaSettings? {
        guard let node else {
            reader.report(root, "missing kafka section; add kafka.brokers, kafka.group and kafka.topics")
            return nil
        }
        guard let entries = reader.mapping(node, named: "kafka", allowed: kafkaKeys) else { return nil }
        func required(_ key: String) -> Node? {
            if let value = entries[key] { return value }
            reader.report(node, "kafka.\(key) is required")
            return nil
        }
        let brokers = required("brokers").flatMap { reader.string($0, named: "kafka.brokers") }
        let group = required("group").flatMap { reader.string($0, named: "kafka.group") }
        let topics = required("topics").flatMap { reader.strings($0, named: "kafka.topics") }
        if let topics, topics.isEmpty, let at = entries["topics"] { reader.report(at, "kafka.topics is empty; list at least one topic or ^regex") }
        for (index, topic) in (topics ?? []).enumerated() {
            let at = entries["topics"].flatMap { node in if case .sequence(let s) = node, index < s.count { s[index] } else { node } }
            if topic.hasPrefix("^") {
                do { _ = try CompiledRegex(topic) } catch {
                    reader.report(at, "kafka.topics entry '\(topic)' is not a valid regex in RE2 syntax (\(CompiledRegex.syntaxReference)): \(error)")
                }
            } else if let problem = KafkaTopicName.problem(with: topic) {
                reader.report(at, "kafka.topics entry: \(problem); a pattern starts with ^")
            }
        }
        let deadLetter = entries["dead_letter_topic"].flatMap { node -> String? in
            guard let name = reader.string(node, named: "kafka.dead_letter_topic") else { return nil }
            if let problem = KafkaTopicName.problem(with: name) { reader.report(node, "kafka.dead_letter_topic: \(problem)") }
            return name
        }
        var properties: [String: String] = [:]
        if let propertiesNode = entries["properties"], let map = reader.mapping(propertiesNode, named: "kafka.properties", allowed: []) {
            for (name, value) in map {
                if let text = reader.string(value, named: "kafka.properties.\(name)") { properties[name] = text }
            }
        }
        var mode = KafkaMode.direct
        if let node = entries["mode"], let text = reader.string(node, named: "kafka.mode") {
            if let parsed = KafkaMode(rawValue: text) {
                mode = parsed
            } else {
                reader.report(
                    node,
                    "kafka.mode '\(text)' is not a mode; use 'direct' (one replica) or 'partitioned' (several replicas sharing each workspace's budget)"
                )
            }
        }
        let requestsTopic = entries["requests_topic"].flatMap { node -> String? in
            guard let name = reader.string(node, named: "kafka.requests_topic") else { return nil }
            if let problem = KafkaTopicName.problem(with: name) { reader.report(node, "kafka.requests_topic: \(problem)") }
            return name
        }
        // An empty state_topic turns the state topic off (a cluster where it may not be created).
        var stateTopicSetting: String?? = nil
        if let node = entries["state_topic"], let name = reader.string(node, named: "kafka.state_topic") {
            if name.isEmpty {
                if mode == .partitioned {
                    reader.report(
                        node, "kafka.state_topic may not be empty in partitioned mode: a new owner needs it to take over a workspace's budget")
                }
                stateTopicSetting = .some(nil)
            } else {
                if let problem = KafkaTopicName.problem(with: name) { reader.report(node, "kafka.state_topic: \(problem)") }
                stateTopicSetting = .some(name)
            }
        }
        var maxUncommitted = KafkaSettings.defaultMaxUncommitted
        if let node = entries["max_uncommitted"], let text = reader.string(node, named: "kafka.max_uncommitted") {
            if let value = Int(saturatingDecimal: text), value > 0, value <= ConfigLimits.maxUncommitted {
                maxUncommitted = value
            } else {
                reader.report(node, "kafka.max_uncommitted '\(text)' must be a whole number of events from 1 to \(ConfigLimits.maxUncommitted)")
            }
        }
        // Empty (say `${POD_NAME:-}` outside Kubernetes) means dynamic membership.
        let instanceID = entries["instance_id"].flatMap { node -> String? in
            guard let id = reader.string(node, named: "kafka.instance_id"), !id.isEmpty else { return nil }
            if let problem = KafkaTopicName.problem(with: id, kind: "instance id") { reader.report(node, "kafka.instance_id: \(problem)") }
            return id
        }
        guard let brokers, let group, let topics else { return nil }
        // Request records consumed as source events would be forwarded again, for ever. (State
        // records that a broad ^pattern picks up are only skipped by the consumer.)
        let requests = requestsTopic ?? "\(group).requests"
        if mode == .partitioned || requestsTopic != nil,
            topics.contains(requests)
                || topics.filter({ $0.hasPrefix("^") }).compactMap({ try? CompiledRegex($0) }).contains(where: { $0.matches(requests) })
        {
            reader.report(
                entries["requests_topic"] ?? entries["topics"],
                "kafka.requests_topic '\(requests)' is also consumed through kafka.topics; an internal topic must not be a source (rename it or narrow the pattern)"
            )
        }
        return KafkaSettings(
            brokers: brokers, group: group, topics: topics, deadLetterTopic: deadLetter, properties: properties,
            maxUncommitted: maxUncommitted, instanceID: instanceID, mode: mode,
            requestsTopic: requestsTopic ?? "\(group).requests",
            stateTopic: stateTopicSetting ?? "\(group).state"
        )
    }

    private static func readTargets(_ node: Node?, root: Node, _ reader: inout ConfigNodeWalker) -> [TargetSettings] {
        guard let node else {
            reader.report(root, "missing targets: add at least one Braze target with name, endpoint and api_key_env")
            return []
        }
        guard case .sequence(let sequence) = node else {
            reader.report(node, "targets must be a list")
            return []
        }
        var targets: [TargetSettings] = []
        for item in sequence {
            guard let entries = reader.mapping(item, named: "a target", allowed: targetKeys) else { continue }
            guard let name = entries["name"].flatMap({ reader.string($0, named: "target name") }) else {
                if entries["name"] == nil { reader.report(item, "a target needs a name") }
                continue
            }
            if targets.contains(where: { $0.name == name }) { reader.report(entries["name"], "duplicate target name '\(name)'") }
            guard let endpointNode = entries["endpoint"], let endpoint = reader.string(endpointNode, named: "targets.\(name).endpoint") else {
                if entries["endpoint"] == nil { reader.report(item, "target '\(name)' needs an endpoint, like https://rest.iad-03.braze.com") }
                continue
            }
            if !(endpoint.hasPrefix("https://") || endpoint.hasPrefix("http://")) {
                reader.report(endpointNode, "targets.\(name).endpoint '\(endpoint)' must start with https:// (http:// only for a local simulator)")
            }
            let keySource: SecretSource
            switch (entries["api_key_env"], entries["api_key_file"]) {
            case (let env?, nil): keySource = .environment(reader.string(env, named: "api_key_env") ?? "")
            case (nil, let file?): keySource = .file(reader.string(file, named: "api_key_file") ?? "")
            case (_?, let second?):
                reader.report(second, "target '\(name)': give api_key_env or api_key_file, not both")
                continue
            case (nil, nil):
                reader.report(
                    item, "target '\(name)' needs api_key_env (an environment variable name) or api_key_file; the key itself never goes in the config"
                )
                continue
            }
            let rateLimit =
                entries["rate_limit"].flatMap { reader.rateLimit($0, named: "targets.\(name).rate_limit") }
                ?? .brazeTriggers
            let statusLimit =
                entries["status_rate_limit"].flatMap { reader.rateLimit($0, named: "targets.\(name).status_rate_limit") }
                ?? .brazeStatuses
            let timeout = entries["timeout"].flatMap { reader.duration($0, named: "targets.\(name).timeout") } ?? .seconds(10)
            targets.append(
                TargetSettings(
                    name: name, endpoint: endpoint, apiKeySource: keySource, rateLimit: rateLimit, statusRateLimit: statusLimit, timeout: timeout))
        }
        if targets.isEmpty, reader.issues.isEmpty { reader.report(node, "targets is empty; add at least one Braze target") }
        return targets
    }

    static func readCoalesce(_ node: Node?, _ reader: inout ConfigNodeWalker, base: CoalescePolicy? = nil) -> CoalescePolicy? {
        guard let node, let entries = reader.mapping(node, named: "coalesce", allowed: coalesceKeys) else { return nil }
        var policy = base ?? CoalescePolicy.default
        if let value = entries["quiet"].flatMap({ reader.duration($0, named: "coalesce.quiet") }) { policy.quiet = value }
        if let value = entries["max_delay"].flatMap({ reader.duration($0, named: "coalesce.max_delay") }) { policy.maxDelay = value }
        if policy.maxDelay < policy.quiet {
            reader.report(
                node, "coalesce.max_delay (\(policy.maxDelay.configText)) must not be shorter than coalesce.quiet (\(policy.quiet.configText))")
        }
        return policy
    }

    private static func readHTTP(_ node: Node?, _ reader: inout ConfigNodeWalker) -> HTTPSettings {
        var settings = HTTPSettings(
            listen: nil, ingressTokens: [], ingressHMAC: nil, maxBody: HTTPSettings.defaultMaxBody, ingressTimeout: .seconds(10))
        guard let node, let entries = reader.mapping(node, named: "http", allowed: httpKeys) else { return settings }
        settings.listen = entries["listen"].flatMap { node -> String? in
            guard let text = reader.string(node, named: "http.listen") else { return nil }
            do { _ = try ListenAddress(parsing: text) } catch { reader.report(node, "http.listen \(error)") }
            return text
        }
        settings.ingressTokens = entries["ingress_tokens"].flatMap { readTokens($0, named: "http.ingress_tokens", &reader) } ?? []
        settings.adminTokens = entries["admin_tokens"].flatMap { readTokens($0, named: "http.admin_tokens", &reader) } ?? []
        settings.ingressHMAC = entries["ingress_hmac"].flatMap { readHMAC($0, &reader) }
        if let bodyNode = entries["max_body"], let text = reader.string(bodyNode, named: "http.max_body") {
            if let bytes = parseByteSize(text) {
                if bytes > HTTPSettings.maxBodyCap {
                    reader.report(
                        bodyNode,
                        "http.max_body '\(text)' is over the limit of \(HTTPSettings.maxBodyCap >> 20)MiB; webhook bodies this large belong in object storage, with a reference in the event"
                    )
                } else {
                    settings.maxBody = bytes
                }
            } else {
                reader.report(bodyNode, "http.max_body '\(text)' is not a size; write bytes or KiB/MiB, like 1MiB")
            }
        }
        if let node = entries["max_connections"], let text = reader.string(node, named: "http.max_connections") {
            if let value = Int(text), (1...1_000_000).contains(value) {
                settings.maxConnections = value
            } else {
                reader.report(
                    node, "http.max_connections '\(text)' must be a whole number from 1 to 1000000, like \(HTTPSettings.defaultMaxConnections)")
            }
        }
        if let node = entries["max_inflight_body"], let text = reader.string(node, named: "http.max_inflight_body") {
            if let bytes = parseByteSize(text) {
                if bytes > ConfigLimits.maxByteSize {
                    reader.report(node, "http.max_inflight_body '\(text)' is too large; the maximum is \(ConfigLimits.maxByteSize) bytes (1GB)")
                } else if bytes < settings.maxBody {
                    reader.report(
                        node,
                        "http.max_inflight_body '\(text)' is smaller than http.max_body (\(settings.maxBody) bytes), so the largest allowed body could never be accepted; raise it"
                    )
                } else {
                    settings.maxInflightBody = bytes
                }
            } else {
                reader.report(node, "http.max_inflight_body '\(text)' is not a size; write bytes or KiB/MiB, like 64MiB")
            }
        } else if settings.maxInflightBody < settings.maxBody {
            settings.maxInflightBody = settings.maxBody
        }
        let timeouts: [(String, WritableKeyPath<HTTPSettings, Duration>)] = [
            ("idle_timeout", \.idleTimeout), ("header_timeout", \.headerTimeout), ("read_timeout", \.readTimeout),
        ]
        for (key, path) in timeouts {
            guard let node = entries[key], let value = reader.duration(node, named: "http.\(key)") else { continue }
            if value < .milliseconds(1) { reader.report(node, "http.\(key) must be at least 1ms") } else { settings[keyPath: path] = value }
        }
        if let timeoutNode = entries["ingress_timeout"], let value = reader.duration(timeoutNode, named: "http.ingress_timeout") {
            // librdkafka's message.timeout.ms: whole milliseconds, and 0 would mean "wait forever".
            if value < .milliseconds(1) {
                reader.report(timeoutNode, "http.ingress_timeout must be at least 1ms")
            } else {
                settings.ingressTimeout = value
            }
        }
        return settings
    }

    private static func readHMAC(_ node: Node, _ reader: inout ConfigNodeWalker) -> IngressHMACSettings? {
        guard let entries = reader.mapping(node, named: "http.ingress_hmac", allowed: hmacKeys) else { return nil }
        let source: SecretSource
        switch (entries["secret_env"], entries["secret_file"]) {
        case (let env?, nil):
            guard let name = reader.string(env, named: "http.ingress_hmac.secret_env") else { return nil }
            source = .environment(name)
        case (nil, let file?):
            guard let path = reader.string(file, named: "http.ingress_hmac.secret_file") else { return nil }
            source = .file(path)
        case (_?, let second?):
            reader.report(second, "http.ingress_hmac: give secret_env or secret_file, not both")
            return nil
        case (nil, nil):
            reader.report(
                node, "http.ingress_hmac needs secret_env (an environment variable name) or secret_file; the secret itself never goes in the config")
            return nil
        }
        var header = IngressHMACSettings.defaultHeader
        if let headerNode = entries["header"], let name = reader.string(headerNode, named: "http.ingress_hmac.header") {
            // RFC 9110 token characters: anything else can never arrive as a header name.
            let tokenCharacters = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
            if name.isEmpty || !name.allSatisfy(tokenCharacters.contains) {
                reader.report(headerNode, "http.ingress_hmac.header '\(name)' is not an HTTP header name, like X-Signature-256")
            } else {
                header = name
            }
        }
        return IngressHMACSettings(secretSource: source, header: header)
    }

    /// Why a bearer token could never be sent, or would be guessed at once; nil when usable.
    /// Bearer tokens, each checked where it stands in the list.
    private static func readTokens(_ node: Node, named name: String, _ reader: inout ConfigNodeWalker) -> [String]? {
        guard let tokens = reader.strings(node, named: name) else { return nil }
        // Point at the entry itself when every entry could be read.
        let items: [Node] = if case .sequence(let s) = node, s.count == tokens.count { Array(s) } else { Array(repeating: node, count: tokens.count) }
        for (token, item) in zip(tokens, items) {
            if let problem = ingressTokenProblem(token) { reader.report(item, "\(name) entry \(problem)") }
        }
        return tokens
    }

    static func ingressTokenProblem(_ token: String) -> String? {
        if token.isEmpty { return "is empty (check that its ${VARIABLE} is set); an empty token would accept requests with no credentials" }
        if !token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) {
            return "contains a space, a control character or non-ASCII text, which an Authorization header cannot carry; use printable ASCII only"
        }
        return nil
    }

    /// Bytes in `1MiB`, `512KB`, `1048576`; nil for anything else. A size too large for `Int`
    /// comes back as `Int.max`, so the caller reports its limit instead of the process trapping.
    static func parseByteSize(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("KB", 1000), ("MB", 1_000_000), ("B", 1), ("", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let value = Int(saturatingDecimal: text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), value > 0 {
                return value.multipliedOrNil(by: scale) ?? .max
            }
        }
        return nil
    }
}
