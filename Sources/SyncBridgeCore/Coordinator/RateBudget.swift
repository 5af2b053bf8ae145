import DequeModule

/// At most `limit.count` requests in any window of `limit.window` (G4), tightened by what
/// the server says in `X-RateLimit-Remaining` / `X-RateLimit-Reset`.
public struct RateBudget: Sendable {
    public let limit: RateLimit
    /// Added to the window: a request reaches the server a little after its token is spent
    /// (connection set-up, the state write-ahead), and must still fall outside the server's window.
    public let margin: Duration
    /// Sends, oldest first; those that left the window are dropped at the next send.
    private var sent: Deque<Moment> = []
    private var serverRemaining: Int?
    private var serverResetAt: Moment?

    public init(limit: RateLimit, margin: Duration = .zero) {
        self.limit = limit
        self.margin = margin
    }

    private var span: Duration { limit.window + margin }

    /// The earliest moment at or after `now` when one more request may be sent.
    public func availableAt(_ now: Moment) -> Moment {
        var earliest = now
        if sent.count >= limit.count {
            // The oldest of the last `count` sends must leave the window first.
            earliest = max(earliest, sent[sent.count - limit.count] + span)
        }
        if let remaining = serverRemaining, remaining <= 0, let reset = serverResetAt, reset > now {
            earliest = max(earliest, reset)
        }
        return earliest
    }

    public func canSend(_ now: Moment) -> Bool { availableAt(now) <= now }

    public mutating func consume(_ now: Moment) {
        if let last = sent.last, last > now {
            // A restored record can hold sends ahead of this clock (skew between owners): keep the order.
            var position = sent.count
            while position > 0, sent[position - 1] > now { position -= 1 }
            sent.insert(now, at: position)
        } else {
            sent.append(now)
        }
        // Sends that left the window never count again: the record stays as small as the window's
        // use, not as large as the limit (a generous limit kept every send it allowed).
        while let first = sent.first, first + span <= now { sent.removeFirst() }
        // Floors at 0 (already "exhausted"), so a hostile Remaining of Int.min cannot overflow.
        if let remaining = serverRemaining { serverRemaining = max(remaining, 1) - 1 }
    }

    /// Takes the server's view into account; a reset in the past clears it.
    public mutating func observe(remaining: Int?, resetAt: Moment?, now: Moment) {
        guard let resetAt, resetAt > now else {
            serverRemaining = nil
            serverResetAt = nil
            return
        }
        serverResetAt = resetAt
        serverRemaining = remaining ?? serverRemaining
    }

    /// Sends this window still allows at `now` (the server's `X-RateLimit-Remaining` included).
    public func remaining(at now: Moment) -> Int {
        let ours = limit.count - usedInWindow(at: now)
        guard let server = serverRemaining, let reset = serverResetAt, reset > now else { return max(0, ours) }
        return max(0, min(ours, server))
    }

    /// When the oldest request inside the window leaves it and frees its token; nil when none is used.
    public func nextRelease(at now: Moment) -> Moment? {
        let first = firstInWindow(at: now)
        return first < sent.count ? sent[first] + span : nil
    }

    /// Sends inside the window ending at `now`.
    public func usedInWindow(at now: Moment) -> Int { sent.count - firstInWindow(at: now) }

    /// The position of the oldest send inside the window ending at `now`: a binary search, since
    /// the coordinator asks on every poll's completion.
    private func firstInWindow(at now: Moment) -> Int {
        var low = 0, high = sent.count
        while low < high {
            let middle = (low + high) / 2
            if sent[middle] + span > now { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The last `X-RateLimit-Remaining` and reset the server sent, while that reset is ahead.
    public func serverView(at now: Moment) -> (remaining: Int, resetAt: Moment)? {
        guard let remaining = serverRemaining, let reset = serverResetAt, reset > now else { return nil }
        return (remaining, reset)
    }

    /// Requests sent inside the window ending at `now`, oldest first: what a new owner must not spend again.
    public func sentInWindow(at now: Moment) -> [Moment] {
        Array(sent[firstInWindow(at: now)...])
    }

    /// The server's "none left until" when it is still in force at `now`.
    public func serverBlock(at now: Moment) -> Moment? {
        guard let remaining = serverRemaining, remaining <= 0, let reset = serverResetAt, reset > now else { return nil }
        return reset
    }

    /// Takes over the view of the owner that wrote `restored` (its record is the whole truth:
    /// whatever this process spent on the target before is in it too).
    public mutating func restore(sent restored: [Moment], blockedUntil: Moment?, now: Moment) {
        sent = Deque(restored.suffix(limit.count).filter { $0 + span > now }.sorted())
        serverRemaining = nil
        serverResetAt = nil
        if let blockedUntil, blockedUntil > now { block(until: blockedUntil) }
    }

    /// A rate-limited answer without a usable reset: wait at least `delay`.
    public mutating func block(until moment: Moment) {
        serverRemaining = 0
        serverResetAt = max(serverResetAt ?? moment, moment)
    }
}

/// Exponential backoff with full jitter: a uniform delay in [0, min(max, initial·2^attempt)].
public struct Backoff: Sendable {
    public var policy: RetryPolicy

    public init(policy: RetryPolicy) { self.policy = policy }

    public func ceiling(attempt: Int) -> Duration {
        let grown = policy.initialBackoff.seconds * Double(1 << UInt64(min(max(attempt, 0), 40)))
        return .seconds(fractional: min(policy.maxBackoff.seconds, grown))
    }

    public func delay(attempt: Int, using generator: inout SplitMix64) -> Duration {
        let ceiling = ceiling(attempt: attempt).seconds
        return .seconds(fractional: Double.random(in: 0...ceiling, using: &generator))
    }
}
