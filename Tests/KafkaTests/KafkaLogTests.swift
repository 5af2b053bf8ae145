@testable import Kafka
import Logging
import Synchronization
import Testing

/// Keeps every entry logged through it.
struct CapturingLogHandler: LogHandler {
    struct Entry: Sendable {
        var level: Logger.Level
        var message: String
        var metadata: [String: String]
    }

    let log: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.mapValues(\.description)
        log.entries.withLock { $0.append(Entry(level: event.level, message: event.message.description, metadata: fields)) }
    }
}

final class CapturedLog: Sendable {
    let entries = Mutex<[CapturingLogHandler.Entry]>([])
    var logger: Logger { Logger(label: "test") { _ in CapturingLogHandler(log: self) } }
}

@Suite(.serialized) struct KafkaLogTests {
    @Test func librdkafkasOwnLogLinesGoThroughSwiftLogWithMappedLevels() {
        let log = CapturedLog()
        KafkaLog.route(to: log.logger)
        defer { KafkaLog.route(to: nil) }
        // Nothing listens on port 1: librdkafka logs the refused connection itself.
        let consumer = try? KafkaConsumer(
            bootstrapServers: "127.0.0.1:1", groupID: "log-test", topics: ["t"], properties: ["reconnect.backoff.max.ms": "100"])
        let deadline = ContinuousClock.now + .seconds(20)
        func refused() -> CapturingLogHandler.Entry? {
            log.entries.withLock { $0 }.first { $0.message.contains("127.0.0.1:1") && $0.message.contains("refused") }
        }
        while refused() == nil, ContinuousClock.now < deadline { _ = consumer?.poll(timeoutMilliseconds: 100) }
        consumer?.close()
        let entry = refused()
        #expect(entry != nil, "librdkafka's connection failure reached the routed logger")
        #expect(entry.map { [.error, .warning].contains($0.level) } == true)
        #expect(entry?.metadata["facility"]?.isEmpty == false)
        #expect(entry?.metadata["client"]?.contains("consumer") == true)
    }

    @Test func syslogLevelsMapOntoSwiftLogLevels() {
        #expect([0, 2, 3, 4, 5, 6, 7].map(KafkaLog.level(syslog:)) == [.critical, .critical, .error, .warning, .notice, .info, .debug])
    }
}
