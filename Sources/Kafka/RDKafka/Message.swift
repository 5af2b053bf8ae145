import CRdKafka

/// Topic names of one batch by handle: a batch's records share a few topics, and making the
/// same `String` for each record was one allocation per record. Only for one batch, whose
/// records keep their topic handles alive.
struct TopicNames {
    private var last: (handle: OpaquePointer, name: String)?

    mutating func name(of handle: OpaquePointer) -> String {
        if let last, last.handle == handle { return last.name }
        let name = String(cString: rd_kafka_topic_name(handle))
        last = (handle, name)
        return name
    }
}

extension KafkaMessage {
    /// Copies a consumed C message; the caller still owns and destroys it.
    init(copying message: UnsafePointer<rd_kafka_message_t>) {
        var topics = TopicNames()
        self.init(copying: message, topics: &topics)
    }

    init(copying message: UnsafePointer<rd_kafka_message_t>, topics: inout TopicNames) {
        let raw = message.pointee
        self.init(
            topic: topics.name(of: raw.rkt),
            partition: raw.partition,
            offset: raw.offset,
            key: bytes(raw.key, raw.key_len),
            value: bytes(raw.payload, raw.len),
            headers: readHeaders(of: message),
            timestamp: readTimestamp(of: message))
    }
}

/// `nil` only for a NULL pointer, so empty and null payloads stay distinct.
func bytes(_ pointer: UnsafeRawPointer?, _ count: Int) -> [UInt8]? {
    guard let pointer else { return nil }
    return Array(UnsafeRawBufferPointer(start: pointer, count: count))
}

/// Lends `bytes` as a (pointer, count) pair; non-nil empty arrays still get a non-NULL pointer
/// because librdkafka treats NULL as a null (tombstone) value.
func withBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawPointer?, Int) throws -> R) rethrows -> R {
    guard let bytes else { return try body(nil, 0) }
    let storage = bytes.isEmpty ? [0] : bytes
    return try storage.withUnsafeBytes { try body($0.baseAddress, bytes.count) }
}

private func readHeaders(of message: UnsafePointer<rd_kafka_message_t>) -> [KafkaHeader] {
    var list: OpaquePointer?
    guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
    var result: [KafkaHeader] = []
    var name: UnsafePointer<CChar>?
    var value: UnsafeRawPointer?
    var size = 0
    while rd_kafka_header_get_all(list, result.count, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
        result.append(KafkaHeader(name: name.map { String(cString: $0) } ?? "", value: bytes(value, size)))
    }
    return result
}

private func readTimestamp(of message: UnsafePointer<rd_kafka_message_t>) -> Int64? {
    let milliseconds = rd_kafka_message_timestamp(message, nil)
    return milliseconds >= 0 ? milliseconds : nil
}
