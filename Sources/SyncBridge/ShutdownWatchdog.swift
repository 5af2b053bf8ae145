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
    private let state = Mutex<(phase: String, armed: Bool)>(("starting the shutdown", true))

    init(deadline: ContinuousClock.Instant, timeout: Duration, logger: Logger, exitsProcess: Bool) {
        let thread = Thread { [self] in
            while ContinuousClock.now < deadline {
                guard isArmed else { return }
                Thread.sleep(forTimeInterval: min(0.05, (deadline - ContinuousClock.now).seconds))
            }
            guard let phase = state.withLock({ $0.armed ? $0.phase : nil }) else { return }
            logger.critical("shutdown_timeout (\(timeout.configText)) exceeded while \(phase); \(exitsProcess ? "exiting with status 1" : "giving up on it"). Events not yet committed are redelivered on restart.")
            if exitsProcess { _exit(1) }
        }
        thread.name = "syncbridge-shutdown-watchdog"
        thread.start()
    }

    private var isArmed: Bool { state.withLock { $0.armed } }

    /// Names what the shutdown is doing now, for the log line if it overruns.
    func phase(_ description: String) { state.withLock { $0.phase = description } }

    func disarm() { state.withLock { $0.armed = false } }
}
