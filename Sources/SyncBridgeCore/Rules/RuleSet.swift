import Synchronization

/// The compiled rules table: maps one event to the integrations it should sync.
///
/// It owns matching and the per-event validation of G8 (values that are not JSON,
/// IDs in events that are not UUIDs). It keeps a per-topic index so that only rules
/// whose topic predicate holds are looked at, and parses a value only when one of
/// those rules needs JSON.
public final class RuleSet: Sendable {
    public let rules: [Rule]
    /// Values larger than this are never parsed (G8: oversized).
    public let maxValueBytes: Int
    private let candidatesByTopic = Mutex<[String: [Int]]>([:])

    public init(rules: [Rule], maxValueBytes: Int = 1 << 20) {
        self.rules = rules
        self.maxValueBytes = maxValueBytes
    }

    /// Indices of the rules whose topic predicate holds for `topic`; cached per topic.
    func candidates(for topic: String) -> [Int] {
        if let cached = candidatesByTopic.withLock({ $0[topic] }) { return cached }
        let computed = rules.indices.filter { rules[$0].topic?.matches(topic) ?? true }
        candidatesByTopic.withLock { $0[topic] = computed }
        return computed
    }

    public func evaluate(_ event: IncomingEvent) -> RuleMatch {
        var match = RuleMatch()
        let candidates = candidates(for: event.topic)
        guard !candidates.isEmpty else { return match }
        var document = ParsedValue.notParsed
        for index in candidates {
            let rule = rules[index]
            guard Self.envelopeHolds(rule, event) else { continue }
            if rule.needsJSON {
                if case .notParsed = document { document = parse(event.value) }
                guard case .json(let json) = document else { continue }
                guard rule.json.allSatisfy({ $0.predicate.holds(for: json.resolve($0.pointer)) }) else { continue }
                match.matchedRules.append(rule.name)
                resolveIntegrations(rule, json, into: &match)
            } else {
                match.matchedRules.append(rule.name)
                resolveIntegrations(rule, nil, into: &match)
            }
        }
        if case .invalid(let reason) = document { match.invalidValue = reason }
        return match
    }

    enum ParsedValue {
        case notParsed
        case json(JSONValue)
        case invalid(InvalidReason)
    }

    func parse(_ value: [UInt8]?) -> ParsedValue {
        guard let value else { return .invalid(.tombstone) }
        guard value.count <= maxValueBytes else { return .invalid(.oversized) }
        do {
            return .json(try JSONParser.parse(value))
        } catch {
            switch error.kind {
            case .invalidUTF8: return .invalid(.invalidUTF8)
            case .tooDeep: return .invalid(.tooDeep)
            case .empty: return .invalid(.empty)
            default: return .invalid(.invalidJSON)
            }
        }
    }

    static func envelopeHolds(_ rule: Rule, _ event: IncomingEvent) -> Bool {
        if let key = rule.key {
            guard let bytes = event.key, key.matches(String(decoding: bytes, as: UTF8.self)) else { return false }
        }
        for (name, patterns) in rule.headers {
            guard let value = headerValue(name, in: event) else { return false }
            guard patterns.contains(where: { $0.matches(value) }) else { return false }
        }
        return true
    }

    /// The last header with this name (Kafka allows repeats; the latest wins), matched case-sensitively.
    static func headerValue(_ name: String, in event: IncomingEvent) -> String? {
        guard let header = event.headers.last(where: { $0.name == name }) else { return nil }
        return header.value.map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    func resolveIntegrations(_ rule: Rule, _ json: JSONValue?, into match: inout RuleMatch) {
        switch rule.integrations {
        case .fixed(let ids):
            for id in ids { match.add(IntegrationKey(target: rule.target, integrationID: id), rule.coalesce) }
        case .fromEvent(let pointer, let allowed):
            let found = json?.resolve(pointer)
            let texts: [String]
            switch found {
            case .string(let text)?: texts = [text]
            case .array(let elements)? where elements.allSatisfy({ if case .string = $0 { true } else { false } }):
                texts = elements.compactMap { if case .string(let text) = $0 { text } else { nil } }
            case nil:
                match.problems.append(EventProblem(rule: rule.name, reason: .missingField, detail: "\(pointer) is missing"))
                return
            default:
                match.problems.append(EventProblem(rule: rule.name, reason: .syncFromNotString, detail: "\(pointer) is \(found!.compactText), not a string or a list of strings"))
                return
            }
            for text in texts {
                guard let id = canonicalIntegrationID(text) else {
                    match.problems.append(EventProblem(rule: rule.name, reason: .invalidIntegrationID, detail: "\(pointer) is '\(text.prefix(80))', not a UUID"))
                    continue
                }
                if let allowed, !allowed.contains(id) {
                    match.problems.append(EventProblem(rule: rule.name, reason: .integrationNotAllowed, detail: "\(id) is not in the rule's allow list"))
                    continue
                }
                match.add(IntegrationKey(target: rule.target, integrationID: id), rule.coalesce)
            }
        }
    }
}

/// Why an event's value could not be used; also the `reason` label of the invalid-events metric.
public enum InvalidReason: String, Sendable, CaseIterable {
    case tombstone
    case oversized
    case empty
    case invalidJSON = "invalid_json"
    case invalidUTF8 = "invalid_utf8"
    case tooDeep = "too_deep"
    case missingField = "missing_field"
    case syncFromNotString = "sync_from_not_string"
    case invalidIntegrationID = "invalid_integration_id"
    case integrationNotAllowed = "integration_not_allowed"
}

/// A rule matched but its integrations could not be taken from the event: dead-lettered.
public struct EventProblem: Sendable, Equatable {
    public var rule: String
    public var reason: InvalidReason
    public var detail: String
}

/// What the rules made of one event.
public struct RuleMatch: Sendable {
    /// The union over matching rules, each with the tightest coalesce policy that reached it.
    public var demands: [IntegrationKey: CoalescePolicy] = [:]
    public var matchedRules: [String] = []
    public var problems: [EventProblem] = []
    /// Set when some rule wanted JSON and the value was not usable JSON.
    public var invalidValue: InvalidReason?

    mutating func add(_ key: IntegrationKey, _ policy: CoalescePolicy) {
        demands[key] = demands[key].map { $0.tightened(by: policy) } ?? policy
    }
}
