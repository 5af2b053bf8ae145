/// Why one rule did or did not match an event, for `syncbridge rules test`.
public struct RuleExplanation: Sendable {
    public struct Check: Sendable {
        public var predicate: String
        public var passed: Bool
        /// What the event had, for a person to compare.
        public var found: String
    }

    public var rule: String
    public var line: Int
    public var checks: [Check]
    public var matched: Bool
    public var target: String
    public var integrations: [String]
    public var problems: [EventProblem]
}

extension RuleSet {
    /// Evaluates every predicate of every rule (no short cut), for a person to read.
    public func explain(_ event: IncomingEvent) -> (rules: [RuleExplanation], invalidValue: InvalidReason?) {
        var parsed = ParsedValue.notParsed
        var explanations: [RuleExplanation] = []
        for rule in rules {
            var checks: [RuleExplanation.Check] = []
            if let topic = rule.topic {
                checks.append(.init(predicate: "topic \(topic)", passed: topic.matches(event.topic), found: event.topic))
            }
            if let key = rule.key {
                let text = event.key.map { String(decoding: $0, as: UTF8.self) }
                checks.append(.init(predicate: "key \(key)", passed: text.map(key.matches) ?? false, found: text ?? "(no key)"))
            }
            for (name, patterns) in rule.headers {
                let value = Self.headerValue(name, in: event)
                let passed = value.map { value in patterns.contains { $0.matches(value) } } ?? false
                checks.append(
                    .init(
                        predicate: "header \(name) \(patterns.map(\.description).joined(separator: " | "))", passed: passed,
                        found: value ?? "(absent)"))
            }
            var json: JSONValue?
            if rule.needsJSON {
                if case .notParsed = parsed { parsed = parse(event.value) }
                switch parsed {
                case .json(let value): json = value
                case .invalid(let reason): checks.append(.init(predicate: "value is JSON", passed: false, found: reason.rawValue))
                case .notParsed: break
                }
            }
            if let json {
                for (pointer, predicate) in rule.json {
                    let found = json.resolve(pointer)
                    checks.append(
                        .init(
                            predicate: "json \(pointer) \(predicate)", passed: predicate.holds(for: found), found: found?.compactText ?? "(missing)"))
                }
            }
            let matched = checks.allSatisfy(\.passed)
            var match = RuleMatch()
            if matched {
                var found: JSONValue?
                if case .fromEvent(let pointer, _) = rule.integrations { found = json?.resolve(pointer) }
                resolveIntegrations(rule, found: found, into: &match)
            }
            explanations.append(
                RuleExplanation(
                    rule: rule.name, line: rule.line, checks: checks, matched: matched, target: rule.target,
                    integrations: match.demands.keys.map(\.integrationID).sorted(), problems: match.problems
                ))
        }
        if case .invalid(let reason) = parsed { return (explanations, reason) }
        return (explanations, nil)
    }
}
