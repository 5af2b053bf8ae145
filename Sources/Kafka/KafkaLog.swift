import CRdKafka
import Glibc
import Logging
import Synchronization

/// Where librdkafka's own log lines go: every client this module makes (consumers, producers,
/// admin clients, the embedded broker) logs through one callback into `route(to:)`'s logger,
/// with the client's name and librdkafka's facility as metadata and syslog levels mapped onto
/// swift-log's. Before a logger is routed, lines go to standard error as librdkafka would print them.
public enum KafkaLog {
    private static let logger = Mutex<Logger?>(nil)

    public static func route(to destination: Logger?) {
        logger.withLock { $0 = destination }
    }

    /// librdkafka's syslog levels: 0–2 emergencies to critical conditions, 3 error, 4 warning,
    /// 5 notice, 6 info, 7 debug.
    static func level(syslog: Int32) -> Logger.Level {
        switch syslog {
        case ...2: return .critical
        case 3: return .error
        case 4: return .warning
        case 5: return .notice
        case 6: return .info
        default: return .debug
        }
    }

    static func emit(syslog: Int32, facility: String, message: String, client: String?) {
        guard let destination = logger.withLock({ $0 }) else {
            let line = Array("%\(syslog)|\(facility)|\(client ?? "rdkafka")| \(message)\n".utf8)
            _ = line.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
            return
        }
        var metadata: Logger.Metadata = ["facility": .string(facility)]
        if let client { metadata["client"] = .string(client) }
        destination.log(level: level(syslog: syslog), "\(message)", metadata: metadata)
    }

    /// Called on librdkafka's threads; `rk` may be a client still being constructed, so its
    /// name is read only once it has one.
    static let callback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = {
        handle, syslog, facility, message in
        let client = handle.flatMap { rd_kafka_name($0) }.map { String(cString: $0) }
        emit(syslog: syslog, facility: facility.map { String(cString: $0) } ?? "", message: message.map { String(cString: $0) } ?? "", client: client)
    }
}
