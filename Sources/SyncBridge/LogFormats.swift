import Foundation
import Kafka
import Logging
import SyncBridgeCore

/// How `syncbridge` writes its log lines: JSON objects for a log collector, or short text for
/// a person. Both carry the metadata fields (target, integration, topic, partition, offset,
/// status, outcome...) next to the message rather than inside it, and both go to standard error.
public enum LogFormat: String, CaseIterable, Sendable {
    case json, text

    /// JSON unless standard error, where the lines go, is a terminal.
    public static var automatic: LogFormat { isatty(STDERR_FILENO) == 1 ? .text : .json }

    /// A logger in this format; librdkafka's own lines are routed through it too.
    public func logger(_ label: String, level: Logger.Level = .info) -> Logger {
        var logger = Logger(label: label) { label in
            switch self {
            case .json: return JSONLogHandler(label: label)
            case .text: return TextLogHandler()
            }
        }
        logger.logLevel = level
        KafkaLog.route(to: logger)
        return logger
    }
}

/// One JSON object per line: `ts`, `level`, `msg`, `logger`, then the metadata fields.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (Data) -> Void

    public init(label: String, write: @escaping @Sendable (Data) -> Void = { FileHandle.standardError.write($0) }) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: String] = [:]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }) { fields[key] = value.description }
        // The fixed fields win over a metadata field of the same name.
        fields["ts"] = RFC3339.string(epochSeconds: Date().timeIntervalSince1970)
        fields["level"] = event.level.rawValue
        fields["msg"] = event.message.description
        fields["logger"] = label
        guard let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]) else { return }
        write(data + Data("\n".utf8))
    }
}

/// `[level] message key=value ...`, for a terminal, the demo and the development tools.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info

    public init() {}

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 }).sorted { $0.key < $1.key }
        let suffix = fields.map { " \($0.key)=\($0.value)" }.joined()
        FileHandle.standardError.write(Data("[\(event.level.rawValue)] \(event.message)\(suffix)\n".utf8))
    }
}
