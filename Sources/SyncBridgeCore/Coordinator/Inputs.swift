/// What the server's rate-limit headers said, with the reset mapped onto the coordinator's clock.
public struct RateLimitHint: Equatable, Sendable {
    public var remaining: Int?
    public var resetAt: Moment?

    public init(remaining: Int? = nil, resetAt: Moment? = nil) {
        self.remaining = remaining
        self.resetAt = resetAt
    }

    public static let none = RateLimitHint()

    /// The furthest ahead a server's reset is believed, wherever it is mapped onto the clock.
    public static let maxResetHorizon: Duration = .seconds(3600)
}

/// The classified answer to `POST /cdi/integrations/{id}/sync`.
public enum TriggerResult: Equatable, Sendable {
    case accepted
    case inProgress
    case rateLimited
    case invalidID
    case notFound
    case unauthorized
    case forbidden
    case serverError(status: Int)
    case networkError

    /// The metric label (`syncbridge_triggers_total{outcome}`).
    public var outcomeLabel: String {
        switch self {
        case .accepted: return "accepted"
        case .inProgress: return "in_progress"
        case .rateLimited: return "rate_limited"
        case .invalidID, .notFound, .unauthorized, .forbidden: return "client_error"
        case .serverError: return "server_error"
        case .networkError: return "network_error"
        }
    }
}

/// The classified answer to `GET /cdi/integrations/{id}/job_sync_status`.
public enum StatusResult: Equatable, Sendable {
    /// The newest job is still running.
    case running
    /// The newest job has ended; `duration` when the response gave start and finish times.
    case finished(duration: Duration?)
    /// No job has ever run.
    case noJobs
    case rateLimited
    case unauthorized
    case forbidden
    case notFound
    case failed
}

/// What the coordinator asks the shell to do.
public enum CoordinatorAction: Equatable, Sendable {
    case trigger(IntegrationKey)
    case pollStatus(IntegrationKey)
    /// Offsets to commit: the next offset to consume, per partition.
    case commit([PartitionID: Int64])
    case deadLetter(DeadLetterOrder)
    /// The target answered 401/403: stop until a probe succeeds (G5).
    case pauseTarget(String, status: Int)
    case resumeTarget(String)
    /// 400/404: the integration is not called again until the rules change; log it once.
    case disableIntegration(IntegrationKey, status: Int)
    /// Events covered by an accepted trigger, with the time from consumption to acceptance.
    case covered(IntegrationKey, latencies: [Duration])
}

/// Events to write to the dead-letter topic; report back with `deadLettersWritten(id)`.
public struct DeadLetterOrder: Equatable, Sendable {
    public var id: UInt64
    public var events: [EventRef]
    public var reason: String
    public var integration: IntegrationKey?
    public var status: Int?
}

/// One consumed record for `Coordinator.eventsConsumed`: see `eventConsumed` for the fields.
public struct ConsumedEvent: Sendable {
    public var ref: EventRef
    public var demands: [IntegrationKey: CoalescePolicy]
    public var deadLetterReason: String?
    public var span: ClosedRange<Moment>?

    public init(_ ref: EventRef, demands: [IntegrationKey: CoalescePolicy], deadLetterReason: String? = nil, span: ClosedRange<Moment>? = nil) {
        self.ref = ref
        self.demands = demands
        self.deadLetterReason = deadLetterReason
        self.span = span
    }
}
