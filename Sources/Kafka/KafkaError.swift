import CRdKafka

/// A failure from the Kafka client. `message` says what went wrong and, where known, how to fix it.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The librdkafka error code, when the failure came with one.
    public var code: Int32?

    public init(message: String, code: Int32? = nil) {
        self.message = message
        self.code = code
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
    }
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
