import Foundation
import Logging
import Synchronization
import Testing
@testable import SyncBridge
@testable import SyncBridgeCore

/// `syncbridge run`'s JSON log lines, from a real service: the values an operator filters on
/// are fields of their own, and no line carries the API key (G10).
@Suite(.serialized) struct LogLinesTests {
    final class Lines: Sendable {
        let lines = Mutex<[[String: String]]>([])

        var logger: Logger {
            var logger = Logger(label: "syncbridge") { label in
                JSONLogHandler(label: label) { data in
                    let line =
                        (try? JSONSerialization.jsonObject(with: data)) as? [String: String] ?? ["unparsed": String(decoding: data, as: UTF8.self)]
                    self.lines.withLock { $0.append(line) }
                }
            }
            logger.logLevel = .info
            return logger
        }

        func first(_ predicate: ([String: String]) -> Bool) -> [String: String]? { lines.withLock { $0.first(where: predicate) } }
    }

    @Test func problemsAreLoggedWithTheirFieldsAndWithoutTheKey() async throws {
        let stack = try await Stack(simulator: simulatorConfig())
        let log = Lines()
        try stack.startService(config: ConfigLoader.load(text: stack.configText(), file: "e2e.yaml"), logger: log.logger)
        // A first group join can be slow while other suites run; the 404 is awaited after it.
        #expect(await stack.waitUntilAssigned())
        try await stack.produce([
            ("cdi.requests", #"{"integration_id": "\#(missingIntegration)"}"#),
            ("cdi.requests", #"{"integration_id": "not-a-uuid"}"#),
        ])
        let disabled = await stack.waitUntil(seconds: 30) { log.first { $0["msg"]?.hasPrefix("integration answered HTTP 404") == true } != nil }
        #expect(disabled)
        let disable = log.first { $0["msg"]?.hasPrefix("integration answered HTTP 404") == true }
        #expect(disable?["level"] == "error")
        #expect(disable?["target"] == "braze")
        #expect(disable?["integration"] == missingIntegration)
        #expect(disable?["status"] == "404")
        #expect(disable?["msg"]?.contains(missingIntegration) == false, "the ID is a field, not part of the message")

        let invalid = log.first { $0["reason"] == InvalidReason.invalidIntegrationID.rawValue }
        #expect(invalid?["topic"] == "cdi.requests")
        #expect(invalid?["partition"] != nil)
        #expect(invalid?["offset"] != nil)
        #expect(invalid?["rule"] == "named")
        #expect(invalid?["msg"]?.hasPrefix("event dead-lettered: ") == true)

        let assigned = log.first { $0["msg"] == "assigned partitions" }
        #expect(assigned?["partitions"]?.contains(topic) == true)
        await stack.shutdown()
        #expect(log.lines.withLock { $0 }.allSatisfy { !$0.values.contains { $0.contains("e2e-key") } }, "no line carries the API key")
    }
}
