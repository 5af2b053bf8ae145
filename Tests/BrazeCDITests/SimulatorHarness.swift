import BrazeCDI
import BrazeSimulator
import Foundation
import Logging

let apiKey = "sk-test-7f3a9c2e-SECRET"
let integrationA = "5a0c3a4e-0d2b-4c47-9a43-1b6f0e7d8c01"
let integrationB = "5a0c3a4e-0d2b-4c47-9a43-1b6f0e7d8c02"
let integrationC = "5a0c3a4e-0d2b-4c47-9a43-1b6f0e7d8c03"

func config(
    integrations: Set<String> = [integrationA, integrationB, integrationC],
    syncDuration: ClosedRange<Duration> = .seconds(5)...(.seconds(5))
) -> SimulatorConfig {
    var config = SimulatorConfig(apiKey: apiKey, integrations: integrations, syncDuration: syncDuration)
    config.seed = 42
    return config
}

/// Runs a simulator on an ephemeral loopback port for the duration of `body`.
func withSimulator(
    _ config: SimulatorConfig,
    _ body: (_ simulator: BrazeSimulator, _ endpoint: String) async throws -> Void
) async throws {
    var logger = Logger(label: "BrazeSimulatorTests")
    // Cancelling the server ends open keep-alive connections, which Hummingbird logs as errors.
    logger.logLevel = .critical
    let simulator = BrazeSimulator(config: config, logger: logger)
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
            try await simulator.run(port: 0) { port in
                continuation.yield(port)
                continuation.finish()
            }
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw HarnessError.serverDidNotStart }
        try await body(simulator, "http://127.0.0.1:\(port)")
        group.cancelAll()
    }
}

enum HarnessError: Error {
    case serverDidNotStart
}

/// Polls `condition` every 20 ms until it holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration = .seconds(5), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return await condition()
}
