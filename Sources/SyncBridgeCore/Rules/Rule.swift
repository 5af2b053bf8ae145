/// An integration on a target: the unit that is coalesced and triggered.
public struct IntegrationKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let target: String
    public let integrationID: String
    /// Both strings hashed once, with the process's seeded hasher: the coordinator and the rules
    /// look a key up several times per matched event, and hashing 40-odd bytes each time was
    /// 6 % of the consumer thread at 100 % matching. Seeded, so hostile IDs cannot aim at collisions.
    private let fingerprint: Int

    public init(target: String, integrationID: String) {
        self.target = target
        self.integrationID = integrationID
        var hasher = Hasher()
        hasher.combine(target)
        hasher.combine(integrationID)
        fingerprint = hasher.finalize()
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.fingerprint == rhs.fingerprint && lhs.integrationID == rhs.integrationID && lhs.target == rhs.target
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(fingerprint) }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.target, lhs.integrationID) < (rhs.target, rhs.integrationID)
    }

    public var description: String { "\(target)/\(integrationID)" }
}

/// How long to wait for a burst to end (`quiet`) and at most (`maxDelay`).
public struct CoalescePolicy: Equatable, Hashable, Sendable {
    public var quiet: Duration
    public var maxDelay: Duration

    public init(quiet: Duration, maxDelay: Duration) {
        self.quiet = quiet
        self.maxDelay = maxDelay
    }

    /// `coalesce:` when the config leaves it out.
    public static let `default` = CoalescePolicy(quiet: .seconds(10), maxDelay: .seconds(120))

    /// The tighter of two policies, for an integration reached by several rules.
    public func tightened(by other: CoalescePolicy) -> CoalescePolicy {
        CoalescePolicy(quiet: min(quiet, other.quiet), maxDelay: min(maxDelay, other.maxDelay))
    }
}

/// A consumed record as the rules see it.
public struct IncomingEvent: Sendable {
    public var topic: String
    public var key: [UInt8]?
    public var headers: [(name: String, value: [UInt8]?)]
    public var value: [UInt8]?

    public init(topic: String, key: [UInt8]? = nil, headers: [(name: String, value: [UInt8]?)] = [], value: [UInt8]?) {
        self.topic = topic
        self.key = key
        self.headers = headers
        self.value = value
    }
}

/// Where a rule's integration IDs come from.
public enum IntegrationSource: Sendable {
    case fixed([String])
    /// A pointer to a string or an array of strings; `allowed == nil` means `allow_any`.
    case fromEvent(JSONPointer, allowed: Set<String>?)
}

/// One compiled rule: every predicate in `when` must hold.
public struct Rule: Sendable {
    public var name: String
    public var line: Int
    public var topic: TextMatcher?
    public var key: TextMatcher?
    public var headers: [(name: String, patterns: [TextMatcher])]
    public var json: [(pointer: JSONPointer, predicate: JSONPredicate)]
    public var integrations: IntegrationSource
    public var target: String
    public var coalesce: CoalescePolicy

    /// The integrations of a fixed `sync` list on the rule's target; nil for `sync_from`.
    var fixedIntegrationKeys: [IntegrationKey]? {
        guard case .fixed(let ids) = integrations else { return nil }
        return ids.map { IntegrationKey(target: target, integrationID: $0) }
    }

    /// Whether the rule needs the value parsed as JSON.
    public var needsJSON: Bool {
        if !json.isEmpty { return true }
        if case .fromEvent = integrations { return true }
        return false
    }
}

/// Lower-case canonical form of a Braze integration ID, or nil when it is not a UUID.
public func canonicalIntegrationID(_ text: String) -> String? {
    let bytes = Array(text.utf8)
    guard bytes.count == 36 else { return nil }
    for (index, byte) in bytes.enumerated() {
        if [8, 13, 18, 23].contains(index) {
            guard byte == UInt8(ascii: "-") else { return nil }
        } else {
            let isHex =
                (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
            guard isHex else { return nil }
        }
    }
    return text.lowercased()
}
