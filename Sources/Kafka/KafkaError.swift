import CRdKafka

/// A failure from the Kafka client. `message` says what went wrong and, where known, how to fix it.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The librdkafka error code, when the failure came with one.
    public var code: Int32?
    /// Trying the same thing again may succeed (a broker away, a leader moving, a timeout).
    public var isRetriable: Bool
    /// The client can no longer be used (librdkafka raised a fatal error, such as a fenced
    /// idempotent producer): make a new one.
    public var isFatal: Bool

    public init(message: String, code: Int32? = nil) {
        self.message = message
        self.code = code
        isRetriable = code.map { Self.retriableCodes.contains($0) } ?? false
        isFatal = code == RD_KAFKA_RESP_ERR__FATAL.rawValue
    }

    public var description: String { message }

    init(_ context: String, _ code: rd_kafka_resp_err_t) {
        self.init(message: "\(context): \(String(cString: rd_kafka_err2str(code)))", code: code.rawValue)
    }

    /// Consumes a C error object, which the caller would otherwise have to destroy.
    init(_ context: String, taking error: OpaquePointer) {
        defer { rd_kafka_error_destroy(error) }
        self.init(
            message: "\(context): \(String(cString: rd_kafka_error_string(error)))",
            code: rd_kafka_error_code(error).rawValue)
        // The error object knows better than the code alone.
        isRetriable = rd_kafka_error_is_retriable(error) != 0 || isRetriable
        isFatal = rd_kafka_error_is_fatal(error) != 0
    }

    /// librdkafka's and the protocol's transient conditions.
    static let retriableCodes: Set<Int32> = Set(
        [
            RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT,
            RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, RD_KAFKA_RESP_ERR__WAIT_COORD, RD_KAFKA_RESP_ERR__QUEUE_FULL,
            RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE, RD_KAFKA_RESP_ERR__IN_PROGRESS,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
            RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
            RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED,
        ].map(\.rawValue))
}

extension KafkaError {
    /// The broker or the client refused a record as larger than `message.max.bytes`: resending it cannot succeed.
    public var isRecordTooLarge: Bool {
        code == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE.rawValue || code == RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE.rawValue
    }

    /// No broker knows the topic.
    public var isUnknownTopic: Bool {
        code == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART.rawValue || code == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC.rawValue
    }
}
