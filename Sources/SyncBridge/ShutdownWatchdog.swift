import Foundation
import Logging
import SyncBridgeCore
import Synchronization

/// Holds `shutdown_timeout` even when a step of the shutdown is stuck (a librdkafka call on an
/// unreachable cluster, an HTTP connection that never finishes).
///
/// It is a plain thread rather than a task, so a blocked cooperative pool cannot delay it; and
/// it exits with a clear log line, where ServiceGroup's own escalation (`maximumCancellationDuration`)
/// traps. Exiting loses nothing: whatever was not committed is redelivered on restart (G7).
final class ShutdownWatchdog: Sendable {
    private let currentPhase = Mutex("starting the shutdown")
    private let disarmed = DispatchSemaphore(value: 0)

    init(deadline: ContinuousClock.Instant, timeout: Duration, logger: Logger, exitsProcess: Bool) {
        let wait = max(0, (deadline - ContinuousClock.now).seconds)
        let thread = Thread { [self] in
            guard disarmed.wait(timeout: .now() + wait) == .timedOut else { return }
            logger.critical(
                "shutdown_timeout (\(timeout.configText)) exceeded while \(currentPhase.withLock { $0 }); \(exitsProcess ? "exiting with status 1" : "giving up on it"). Events not yet committed are redelivered on restart."
            )
            if exitsProcess { _exit(1) }
        }
        thread.name = "syncbridge-shutdown-watchdog"
        thread.start()
    }

    /// Names what the shutdown is doing now, for the log line if it overruns.
    func phase(_ description: String) { currentPhase.withLock { $0 = description } }

    func disarm() { disarmed.signal() }
}
