import Foundation
import Kafka
import Testing
@testable import SyncBridge
import SyncBridgeCore

/// Dead letters that cannot be written are retried with backoff, and nothing is committed
/// meanwhile; once shutdown closes the producer the retries end instead of spinning on it.
@Suite(.serialized) struct DeadLetterShutdownTests {
    @Test func unwritableDeadLettersStopRetryingAtShutdownAndStayUncommitted() async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        try stack.startService()
        try await stack.produce([("cdi.requests", #"{"integration_id":"\#(missingIntegration)"}"#)])
        #expect(await stack.waitUntil { stack.recorder.consumedCount == 1 })
        // From now on every Produce request fails (10 = MESSAGE_TOO_LARGE, not retriable).
        stack.cluster.pushRequestErrors(apiKey: 0, errors: Array(repeating: 10, count: 200))
        let notFound = await stack.waitUntil { await stack.simulator.requests().contains { $0.status == 404 } }
        #expect(notFound, "the unknown integration answered 404")
        try await Task.sleep(for: .seconds(2))
        #expect(stack.service.engine.requestsInFlight > 0, "the dead-letter write is being retried")

        await stack.stopService()
        let settled = await stack.waitUntil(seconds: 5) { stack.service.engine.requestsInFlight == 0 }
        #expect(settled, "no retry outlives the shutdown")
        #expect(stack.recorder.deadLetters.withLock { $0.isEmpty })
        #expect(
            stack.recorder.commits.withLock { $0[PartitionID(topic: "cdi.requests", partition: 0)] } == nil,
            "an unwritten dead letter is not committed")
        await stack.shutdown()
    }
}
