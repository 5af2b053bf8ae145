/// The integrations one event waits on, each with the tightest coalescing policy that reached it.
///
/// Most events reach one integration, so that one is stored inline: a dictionary per matched
/// event cost an allocation, a hash and its release on the consumer thread. Iteration is in key
/// order, so the coordinator handles an event's integrations in the same order on every member.
public struct Demands: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public typealias Element = (key: IntegrationKey, policy: CoalescePolicy)

    /// Set while there is exactly one demand.
    private var singleKey: IntegrationKey?
    private var singlePolicy = CoalescePolicy.default
    /// Every demand, once there are two or more.
    private var several: [IntegrationKey: CoalescePolicy] = [:]

    public init() {}

    public init(dictionaryLiteral elements: (IntegrationKey, CoalescePolicy)...) {
        for (key, policy) in elements { add(key, policy) }
    }

    public init(_ demands: [IntegrationKey: CoalescePolicy]) {
        for (key, policy) in demands { add(key, policy) }
    }

    public var count: Int { singleKey == nil ? several.count : 1 }
    public var isEmpty: Bool { singleKey == nil && several.isEmpty }

    /// The integrations, in key order.
    public var keys: [IntegrationKey] { map(\.key) }

    public subscript(key: IntegrationKey) -> CoalescePolicy? {
        if let singleKey { return singleKey == key ? singlePolicy : nil }
        return several[key]
    }

    /// Adds `key`, or tightens its policy when it is there already.
    public mutating func add(_ key: IntegrationKey, _ policy: CoalescePolicy) {
        if isEmpty {
            singleKey = key
            singlePolicy = policy
            return
        }
        if let single = singleKey {
            if single == key {
                singlePolicy = singlePolicy.tightened(by: policy)
                return
            }
            several = [single: singlePolicy]
            singleKey = nil
        }
        several[key] = several[key].map { $0.tightened(by: policy) } ?? policy
    }

    public struct Iterator: IteratorProtocol {
        fileprivate var single: Element?
        fileprivate var sorted: IndexingIterator<[Element]>?

        public mutating func next() -> Element? {
            if let element = single {
                single = nil
                return element
            }
            return sorted?.next()
        }
    }

    public func makeIterator() -> Iterator {
        if let singleKey { return Iterator(single: (singleKey, singlePolicy)) }
        guard !several.isEmpty else { return Iterator() }
        return Iterator(sorted: several.map { ($0.key, $0.value) }.sorted { $0.key < $1.key }.makeIterator())
    }

    public var underestimatedCount: Int { count }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.singleKey == rhs.singleKey && (lhs.singleKey == nil || lhs.singlePolicy == rhs.singlePolicy) && lhs.several == rhs.several
    }
}
