import CRdKafka

/// Builds librdkafka configurations and client handles, turning its error buffers into `KafkaError`s.
enum RDKafkaConfiguration {
    /// A new configuration object with `properties` applied; the caller owns it.
    static func make(_ properties: [String: String]) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        rd_kafka_conf_set_log_cb(conf, KafkaLog.callback)
        // Sorted so the first bad property reported is stable from run to run.
        for (name, value) in properties.sorted(by: { $0.key < $1.key }) {
            var reason = [CChar](repeating: 0, count: 512)
            let result = rd_kafka_conf_set(conf, name, value, &reason, reason.count)
            guard result != RD_KAFKA_CONF_OK else { continue }
            rd_kafka_conf_destroy(conf)
            let detail = string(from: reason)
            if result == RD_KAFKA_CONF_UNKNOWN {
                throw KafkaError(
                    message: "kafka.properties: unknown property '\(name)': \(detail). "
                        + "Remove it or fix its spelling (see librdkafka's CONFIGURATION.md for valid names).")
            }
            throw KafkaError(
                message: "kafka.properties: invalid value '\(value)' for '\(name)': \(detail). "
                    + "Use a value of the type and range documented in librdkafka's CONFIGURATION.md.")
        }
        return conf
    }

    /// Creates a client; it takes ownership of `conf` on success, otherwise `conf` is destroyed here.
    static func makeHandle(_ type: rd_kafka_type_t, _ conf: OpaquePointer, role: String) throws -> OpaquePointer {
        var reason = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &reason, reason.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError(
                message: "cannot create Kafka \(role): \(string(from: reason)). "
                    + "Check the client properties (bootstrap servers, security settings).")
        }
        return handle
    }

    private static func string(from buffer: [CChar]) -> String {
        buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
