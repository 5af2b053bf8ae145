import Foundation
import Synchronization
import SyncBridgeCore

/// Request-body bytes held at once across all requests (`http.max_inflight_body`): a body is
/// buffered whole for its signature check and held until the broker acknowledged it, so without
/// this bound many slow or unsigned senders together could fill the memory.
final class BodyBudget: Sendable {
    let limit: Int
    private let used = Mutex(0)

    init(limit: Int) { self.limit = limit }

    /// Takes `bytes` from the budget, or returns false (and takes nothing) when they do not fit.
    func reserve(_ bytes: Int) -> Bool {
        used.withLock { used in
            guard bytes <= limit - used else { return false }
            used += bytes
            return true
        }
    }

    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        used.withLock { $0 -= bytes }
    }

    var inUse: Int { used.withLock { $0 } }
}

/// Open HTTP connections (`http.max_connections`); one over the limit is answered 503 and closed.
final class ConnectionCount: Sendable {
    let limit: Int
    private let open = Atomic(0)

    init(limit: Int) { self.limit = limit }

    /// Counts a new connection, or returns false (and counts nothing) when the limit is reached.
    func tryOpen() -> Bool {
        if open.add(1, ordering: .relaxed).newValue <= limit { return true }
        open.subtract(1, ordering: .relaxed)
        return false
    }

    func close() { open.subtract(1, ordering: .relaxed) }

    var current: Int { open.load(ordering: .relaxed) }
}

/// Which topics the ingress may produce to: those `kafka.topics` lists by name, and those one of
/// its `^regex` entries matches. Compiled once, not per request.
struct ConsumedTopics: Sendable {
    enum Kind { case listed, matchesPattern, notConsumed }

    private let names: Set<String>
    private let patterns: [CompiledRegex]

    init(_ topics: [String]) {
        names = Set(topics.filter { !$0.hasPrefix("^") })
        // Config loading already refused invalid patterns.
        patterns = topics.filter { $0.hasPrefix("^") }.compactMap { try? CompiledRegex($0) }
    }

    func kind(of topic: String) -> Kind {
        if names.contains(topic) { return .listed }
        return patterns.contains { $0.matches(topic) } ? .matchesPattern : .notConsumed
    }
}

/// Which topics exist on the cluster, asked before producing to a name from a request path.
///
/// Producing to a name makes librdkafka ask the brokers about it, and a broker that auto-creates
/// topics (as the embedded one always does, whatever the client asks) would create it. So a name
/// is produced to only once a listing of all topics, which creates nothing, shows it. A name not
/// yet seen waits for a listing begun after it was asked about, so a topic created a moment ago is
/// found; listings are shared by concurrent callers and begin at most once per `minimumInterval`,
/// so invented names cost the cluster at most one listing a second.
actor ClusterTopics {
    static let minimumInterval = Duration.seconds(1)

    private typealias Listing = (startedAt: ContinuousClock.Instant, names: Set<String>?)

    private let list: @Sendable () throws -> Set<String>
    private var known: Set<String> = []
    private var latest: Listing?
    private var inFlight: Task<Listing, Never>?

    /// - Parameter list: all topic names; blocking, so it runs on a thread of its own.
    init(list: @escaping @Sendable () throws -> Set<String>) { self.list = list }

    /// Whether `topic` exists, or nil when the cluster could not be asked.
    func exists(_ topic: String) async -> Bool? {
        if known.contains(topic) { return true }
        let asked = ContinuousClock.now
        while true {
            if let latest, latest.startedAt >= asked { return latest.names?.contains(topic) }
            let task = inFlight ?? startListing()
            let listing = await task.value
            if inFlight == task { inFlight = nil }
            if latest.map({ $0.startedAt < listing.startedAt }) ?? true {
                latest = listing
                if let names = listing.names { known = names }
            }
            if listing.startedAt >= asked { return listing.names?.contains(topic) }
        }
    }

    private func startListing() -> Task<Listing, Never> {
        let earliest = latest.map { $0.startedAt + Self.minimumInterval } ?? .now
        let task = Task { [list] () -> Listing in
            try? await Task.sleep(until: earliest, clock: .continuous)
            let startedAt = ContinuousClock.now
            return (startedAt, await onThreadOfItsOwn { try? list() })
        }
        inFlight = task
        return task
    }
}

/// Runs blocking work (a librdkafka call) on a thread of its own, not on the few cooperative
/// threads the HTTP handlers share.
func onThreadOfItsOwn<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread { continuation.resume(returning: body()) }.start()
    }
}
