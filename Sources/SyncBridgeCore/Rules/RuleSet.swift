import Synchronization

/// The compiled rules table: maps one event to the integrations it should sync.
///
/// It owns matching and the per-event validation of G8 (values that are not JSON,
/// IDs in events that are not UUIDs). Per topic it caches a plan: the rules whose topic
/// predicate holds, and the JSON pointers those rules read. A value is scanned only when
/// one of those rules needs JSON, and then only the values at those pointers are built.
public final class RuleSet: Sendable {
    public let rules: [Rule]
    /// Values larger than this are never parsed (G8: oversized).
    public let maxValueBytes: Int
    private let plansByTopic = Mutex<(last: (topic: String, plan: TopicPlan)?, all: [String: TopicPlan])>((nil, [:]))

    public init(rules: [Rule], maxValueBytes: Int = 1 << 20) {
        self.rules = rules
        self.maxValueBytes = maxValueBytes
    }

    /// The rules that can match one topic, compiled for the hot path.
    ///
    /// Rules are mostly told apart by one value (`/table: ORDERS`), so rules whose first
    /// equality or any-of predicate can be hashed are found through a table keyed by that
    /// value instead of being tested one by one; the rest are always tested.
    final class TopicPlan: Sendable {
        /// What the hot path reads of a rule, so it never copies the `Rule` (a dozen references).
        struct Candidate: Sendable {
            var rule: Int
            /// The rule's name and index as one-element lists, shared by every match: an event that
            /// matches one rule (the usual case) allocates no list of its own.
            var names: [String]
            var indices: [Int]
            /// The demands of a rule with a fixed `sync` list, made once and shared the same way.
            var fixedDemands: [IntegrationKey: CoalescePolicy]?
            var hasEnvelope: Bool
            var needsJSON: Bool
            var predicates: [SlotPredicate]
            var syncFromSlot: Int?
        }

        struct SlotPredicate: Sendable {
            var slot: Int
            var predicate: JSONPredicate
        }

        struct ValueIndex: Sendable {
            var slot: Int
            var positions: [JSONValue: [Int]]
        }

        let candidates: [Candidate]
        let pointers: JSONPointerSet
        /// Positions in `candidates` that are always tested, ascending.
        let scanned: [Int]
        let indexes: [ValueIndex]
        /// Whether some indexed rule has no key or header predicate (then the value is always needed).
        let indexedWithoutEnvelope: Bool
        let indexed: [Int]

        init(candidates indices: [Int], rules: [Rule]) {
            var pointers: [JSONPointer] = []
            for index in indices {
                pointers += rules[index].json.map(\.pointer)
                if case .fromEvent(let pointer, _) = rules[index].integrations { pointers.append(pointer) }
            }
            let set = JSONPointerSet(pointers)
            self.pointers = set
            let candidates = indices.map { index in
                let rule = rules[index]
                var syncFrom: Int?
                if case .fromEvent(let pointer, _) = rule.integrations { syncFrom = set.slot(of: pointer) }
                var fixedDemands: [IntegrationKey: CoalescePolicy]?
                if let keys = rule.fixedIntegrationKeys {
                    var demands = RuleMatch()
                    for key in keys { demands.add(key, rule.coalesce) }
                    fixedDemands = demands.demands
                }
                return Candidate(
                    rule: index, names: [rule.name], indices: [index], fixedDemands: fixedDemands,
                    hasEnvelope: rule.key != nil || !rule.headers.isEmpty, needsJSON: rule.needsJSON,
                    predicates: rule.json.map { SlotPredicate(slot: set.slot(of: $0.pointer)!, predicate: $0.predicate) },
                    syncFromSlot: syncFrom
                )
            }
            var scanned: [Int] = [], indexed: [Int] = []
            var tables: [Int: [JSONValue: [Int]]] = [:]
            for (position, candidate) in candidates.enumerated() {
                let keyed = candidate.predicates.lazy.compactMap { entry -> (Int, [JSONValue])? in
                    switch entry.predicate {
                    case .equals(let value): return (entry.slot, [value])
                    case .anyOf(let values): return (entry.slot, values)
                    case .all: return nil
                    }
                }.first
                guard let (slot, values) = keyed else {
                    scanned.append(position)
                    continue
                }
                indexed.append(position)
                for value in Set(values) { tables[slot, default: [:]][value, default: []].append(position) }
            }
            self.candidates = candidates
            self.scanned = scanned
            self.indexed = indexed
            indexes = tables.sorted { $0.key < $1.key }.map { ValueIndex(slot: $0.key, positions: $0.value) }
            indexedWithoutEnvelope = indexed.contains { !candidates[$0].hasEnvelope }
        }
    }

    /// The plan for `topic`; computed once per topic.
    func plan(for topic: String) -> TopicPlan {
        // Runs of events on one topic are the rule: comparing with the last topic beats hashing it.
        let cached = plansByTopic.withLock { cache -> TopicPlan? in
            if let last = cache.last, last.topic == topic { return last.plan }
            guard let plan = cache.all[topic] else { return nil }
            cache.last = (topic, plan)
            return plan
        }
        if let cached { return cached }
        let candidates = rules.indices.filter { rules[$0].topic?.matches(topic) ?? true }
        let plan = TopicPlan(candidates: candidates, rules: rules)
        plansByTopic.withLock { $0.all[topic] = plan }
        return plan
    }

    /// The plan used last by one caller, so a run of records on one topic takes no lock: the
    /// shared cache's lock was 3 % of the consumer thread. Valid only with the `RuleSet` that filled it.
    public struct PlanCache: Sendable {
        var last: (topic: String, plan: TopicPlan)?
        public init() {}
    }

    public func evaluate(_ event: IncomingEvent) -> RuleMatch {
        var cache = PlanCache()
        return evaluate(event, cache: &cache)
    }

    /// As `evaluate(_:)`, reusing `cache` (which must have been filled by this `RuleSet`).
    public func evaluate(_ event: IncomingEvent, cache: inout PlanCache) -> RuleMatch {
        let plan: TopicPlan
        if let last = cache.last, last.topic == event.topic {
            plan = last.plan
        } else {
            plan = self.plan(for: event.topic)
            cache.last = (event.topic, plan)
        }
        return evaluate(event, plan: plan)
    }

    private func evaluate(_ event: IncomingEvent, plan: TopicPlan) -> RuleMatch {
        var match = RuleMatch()
        guard !plan.candidates.isEmpty else { return match }
        var document = ExtractedValues.notParsed
        var positions = plan.scanned
        // The value is read only when a rule that needs it passes its key and header predicates.
        if !plan.indexes.isEmpty,
            plan.indexedWithoutEnvelope || plan.indexed.contains(where: { Self.envelopeHolds(rules[plan.candidates[$0].rule], event) })
        {
            document = extract(event.value, plan.pointers)
            if case .values(let values) = document {
                var merged = false
                for index in plan.indexes {
                    guard let value = values[index.slot], let hits = index.positions[value] else { continue }
                    // Each list is ascending; taking the first one as it is allocates nothing.
                    if positions.isEmpty {
                        positions = hits
                    } else {
                        positions += hits
                        merged = true
                    }
                }
                if merged { positions.sort() }
            }
        }
        // Fields are read in place: copying a candidate out cost a retain and release per list in it.
        let candidates = plan.candidates
        for position in positions {
            let rule = candidates[position].rule
            if candidates[position].hasEnvelope, !Self.envelopeHolds(rules[rule], event) { continue }
            var found: JSONValue?
            if candidates[position].needsJSON {
                if case .notParsed = document { document = extract(event.value, plan.pointers) }
                guard case .values(let values) = document else { continue }
                guard Self.predicatesHold(candidates[position].predicates, values) else { continue }
                found = candidates[position].syncFromSlot.flatMap { values[$0] }
            }
            match.matched(candidates[position].names, candidates[position].indices)
            if let demands = candidates[position].fixedDemands {
                match.add(demands)
            } else {
                resolveIntegrations(rules[rule], found: found, into: &match)
            }
        }
        if case .invalid(let reason) = document { match.invalidValue = reason }
        return match
    }

    private static func predicatesHold(_ predicates: [TopicPlan.SlotPredicate], _ values: [JSONValue?]) -> Bool {
        for entry in predicates where !entry.predicate.holds(for: values[entry.slot]) { return false }
        return true
    }

    enum ExtractedValues {
        case notParsed
        case values([JSONValue?])
        case invalid(InvalidReason)
    }

    enum ParsedValue {
        case notParsed
        case json(JSONValue)
        case invalid(InvalidReason)
    }

    func extract(_ value: [UInt8]?, _ pointers: JSONPointerSet) -> ExtractedValues {
        guard let value else { return .invalid(.tombstone) }
        guard value.count <= maxValueBytes else { return .invalid(.oversized) }
        do {
            return .values(try JSONParser.extract(pointers, from: value))
        } catch {
            return .invalid(Self.reason(error))
        }
    }

    /// The full parse, for `rules test`, which shows what the event holds.
    func parse(_ value: [UInt8]?) -> ParsedValue {
        guard let value else { return .invalid(.tombstone) }
        guard value.count <= maxValueBytes else { return .invalid(.oversized) }
        do {
            return .json(try JSONParser.parse(value))
        } catch {
            return .invalid(Self.reason(error))
        }
    }

    static func reason(_ error: JSONError) -> InvalidReason {
        switch error.kind {
        case .invalidUTF8: return .invalidUTF8
        case .tooDeep: return .tooDeep
        case .empty: return .empty
        default: return .invalidJSON
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

    /// Adds the rule's integrations; `found` is the value at its `sync_from` pointer.
    func resolveIntegrations(_ rule: Rule, found: JSONValue?, into match: inout RuleMatch) {
        switch rule.integrations {
        case .fixed:
            for key in rule.fixedIntegrationKeys ?? [] { match.add(key, rule.coalesce) }
        case .fromEvent(let pointer, let allowed):
            let texts: [String]
            switch found {
            case .string(let text)?: texts = [text]
            case .array(let elements)? where elements.allSatisfy({ if case .string = $0 { true } else { false } }):
                texts = elements.compactMap { if case .string(let text) = $0 { text } else { nil } }
            case nil:
                match.problems.append(EventProblem(rule: rule.name, reason: .missingField, detail: "\(pointer) is missing"))
                return
            default:
                match.problems.append(
                    EventProblem(
                        rule: rule.name, reason: .syncFromNotString, detail: "\(pointer) is \(found!.compactText), not a string or a list of strings")
                )
                return
            }
            for text in texts {
                guard let id = canonicalIntegrationID(text) else {
                    match.problems.append(
                        EventProblem(rule: rule.name, reason: .invalidIntegrationID, detail: "\(pointer) is '\(text.prefix(80))', not a UUID"))
                    continue
                }
                if let allowed, !allowed.contains(id) {
                    match.problems.append(
                        EventProblem(rule: rule.name, reason: .integrationNotAllowed, detail: "\(id) is not in the rule's allow list"))
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
    /// Fleet mode's stage two: a record on the requests topic that is not a request for a configured target.
    case invalidRequest = "invalid_request"
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
    /// The matched rules' positions in `RuleSet.rules`, in the order of `matchedRules`.
    public var matchedRuleIndices: [Int] = []
    public var problems: [EventProblem] = []
    /// Set when some rule wanted JSON and the value was not usable JSON.
    public var invalidValue: InvalidReason?

    mutating func matched(_ names: [String], _ indices: [Int]) {
        if matchedRules.isEmpty {
            matchedRules = names
            matchedRuleIndices = indices
        } else {
            matchedRules += names
            matchedRuleIndices += indices
        }
    }

    /// A fixed rule's demands: taken as they are when nothing else matched (no copy, no hashing).
    mutating func add(_ fixed: [IntegrationKey: CoalescePolicy]) {
        guard !demands.isEmpty else {
            demands = fixed
            return
        }
        for (key, policy) in fixed { add(key, policy) }
    }

    mutating func add(_ key: IntegrationKey, _ policy: CoalescePolicy) {
        // Most events reach one integration: the first key is stored with one hash, not two.
        guard !demands.isEmpty else {
            demands = [key: policy]
            return
        }
        demands[key] = demands[key].map { $0.tightened(by: policy) } ?? policy
    }
}
