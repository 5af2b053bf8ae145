import Foundation
import Logging

/// One JSON object per line, for `syncbridge run` under a log collector.
struct JSONLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info
    let label: String
    /// A value type, made once: a formatter per line cost more than the rest of the line.
    private static let timestampStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var fields: [String: String] = [
            "ts": Self.timestampStyle.format(Date()),
            "level": event.level.rawValue,
            "msg": event.message.description,
            "logger": label,
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[key] = value.description }
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        FileHandle.standardError.write(data + Data("\n".utf8))
    }
}

/// Short human-readable lines, for the demo and the development tools.
struct HumanLogHandler: LogHandler {
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        FileHandle.standardError.write(Data("[\(event.level.rawValue)] \(event.message)\n".utf8))
    }
}

enum LogFormat {
    static func json(_ label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { JSONLogHandler(label: $0) }
        logger.logLevel = level
        return logger
    }

    static func human(_ label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { _ in HumanLogHandler() }
        logger.logLevel = level
        return logger
    }
}
