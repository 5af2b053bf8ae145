import CRdKafka
import Foundation
import Synchronization

/// Publishes records and reports each one's fate: `produce` returns once the brokers acknowledged
/// the record (acks=all, idempotent, so retries never duplicate) or throws why they did not.
/// Safe to share between tasks: librdkafka's producer handle is thread-safe, and `isClosed`
/// orders every use of it before `close` frees it (hence `@unchecked`: the handle is a C pointer).
public final class KafkaProducer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let poller: PollLoop
    private let isClosed = Mutex(false)

    /// - Parameter properties: librdkafka properties; they override `acks=all` and `enable.idempotence=true`.
    public init(bootstrapServers: String, properties: [String: String] = [:]) throws {
        var settings = ["acks": "all", "enable.idempotence": "true"]
        settings.merge(properties) { _, given in given }
        settings["bootstrap.servers"] = bootstrapServers
        let conf = try RDKafkaConfiguration.make(settings)
        rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        handle = try RDKafkaConfiguration.makeHandle(RD_KAFKA_PRODUCER, conf, role: "producer")
        poller = PollLoop(handle: handle)
        poller.start()
    }

    deinit { close() }

    /// Sends one record and waits for its delivery report. A `nil` value produces a tombstone;
    /// a `nil` partition lets the key hash choose.
    public func produce(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil
    ) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            send(topic: topic, key: key, value: value, headers: headers, partition: partition) { failure in
                if let failure { continuation.resume(throwing: failure) } else { continuation.resume() }
            }
        }
    }

    /// Enqueues one record before returning (so records sent one after another keep their order)
    /// and calls `completion` with its delivery report, on the poll thread: nil once acknowledged.
    public func send(
        topic: String, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = [], partition: Int32? = nil,
        completion: @escaping @Sendable (KafkaError?) -> Void
    ) {
        // Retained until the delivery report callback takes it back.
        let report = Unmanaged.passRetained(DeliveryReport(completion)).toOpaque()
        if let failure = enqueue(topic, key, value, headers, partition ?? RD_KAFKA_PARTITION_UA, report) {
            Unmanaged<DeliveryReport>.fromOpaque(report).release()
            completion(failure)
        }
    }

    /// Waits up to `timeoutMilliseconds` for every queued record to be acknowledged or fail.
    /// New `produce` calls wait until the flush ends, so "everything sent so far" stays well defined.
    /// Blocks the calling thread: from async code use `flushed(timeoutMilliseconds:)`.
    public func flush(timeoutMilliseconds: Int32) {
        isClosed.withLock { isClosed in
            guard !isClosed else { return }
            _ = rd_kafka_flush(handle, timeoutMilliseconds)
        }
    }

    /// `flush` on a thread of its own, so the wait never holds a thread of Swift's cooperative pool.
    public func flushed(timeoutMilliseconds: Int32) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let thread = Thread { [self] in
                flush(timeoutMilliseconds: timeoutMilliseconds)
                continuation.resume()
            }
            thread.name = "kafka-producer-flush"
            thread.start()
        }
    }

    /// The names of the topics the cluster has, from one metadata request for all topics: unlike a
    /// request naming one topic, it never makes a broker auto-create anything. Blocks for up to
    /// `timeoutMilliseconds` and holds off `produce` meanwhile, so call it off the cooperative
    /// pool, on a producer of its own.
    public func topicNames(timeoutMilliseconds: Int32) throws -> Set<String> {
        try isClosed.withLock { isClosed in
            guard !isClosed else { throw KafkaError(message: "kafka producer is closed; topics can no longer be listed.") }
            var metadata: UnsafePointer<rd_kafka_metadata_t>?
            let error = rd_kafka_metadata(handle, 1, nil, &metadata, timeoutMilliseconds)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError("kafka: cannot list topics", error) }
            defer { rd_kafka_metadata_destroy(metadata) }
            let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
            return Set(topics.filter { $0.err == RD_KAFKA_RESP_ERR_NO_ERROR }.map { String(cString: $0.topic) })
        }
    }

    /// Flushes briefly, fails whatever is still pending, stops the poll thread and frees the client.
    /// Safe to call more than once.
    public func close() {
        isClosed.withLock { isClosed in
            guard !isClosed else { return }
            isClosed = true
            _ = rd_kafka_flush(handle, 5_000)
            // Purged records get delivery reports too, so no awaiting caller is left hanging.
            _ = rd_kafka_purge(handle, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT)
            _ = rd_kafka_flush(handle, 1_000)
            poller.stop()
            rd_kafka_destroy(handle)
        }
    }

    private func enqueue(
        _ topic: String, _ key: [UInt8]?, _ value: [UInt8]?, _ headers: [KafkaHeader], _ partition: Int32,
        _ report: UnsafeMutableRawPointer
    ) -> KafkaError? {
        isClosed.withLock { isClosed in
            guard !isClosed else {
                return KafkaError(message: "kafka producer is closed; records can no longer be sent.")
            }
            let headerList = makeHeaders(headers)
            let failure: OpaquePointer? = topic.withCString { topicName in
                withBytes(key) { keyBytes, keyCount in
                    withBytes(value) { valueBytes, valueCount in
                        var fields = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 7)
                        fields[0].vtype = RD_KAFKA_VTYPE_TOPIC
                        fields[0].u.cstr = topicName
                        fields[1].vtype = RD_KAFKA_VTYPE_PARTITION
                        fields[1].u.i32 = partition
                        fields[2].vtype = RD_KAFKA_VTYPE_KEY
                        fields[2].u.mem = .init(ptr: UnsafeMutableRawPointer(mutating: keyBytes), size: keyCount)
                        fields[3].vtype = RD_KAFKA_VTYPE_VALUE
                        fields[3].u.mem = .init(ptr: UnsafeMutableRawPointer(mutating: valueBytes), size: valueCount)
                        // Copy the value: our buffer only lives for this call.
                        fields[4].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                        fields[4].u.i = RD_KAFKA_MSG_F_COPY
                        fields[5].vtype = RD_KAFKA_VTYPE_OPAQUE
                        fields[5].u.ptr = report
                        fields[6].vtype = RD_KAFKA_VTYPE_HEADERS
                        fields[6].u.headers = headerList
                        return rd_kafka_produceva(handle, fields, fields.count)
                    }
                }
            }
            guard let failure else { return nil }
            // On failure the header list was not handed over.
            rd_kafka_headers_destroy(headerList)
            return KafkaError("kafka: cannot enqueue record for topic '\(topic)'", taking: failure)
        }
    }
}

private func makeHeaders(_ headers: [KafkaHeader]) -> OpaquePointer {
    let list = rd_kafka_headers_new(headers.count)!
    for header in headers {
        withBytes(header.value) { bytes, count in
            _ = rd_kafka_header_add(list, header.name, -1, bytes, count)
        }
    }
    return list
}

/// Carries a record's completion through librdkafka as the record's opaque.
private final class DeliveryReport {
    let completion: @Sendable (KafkaError?) -> Void

    init(_ completion: @escaping @Sendable (KafkaError?) -> Void) { self.completion = completion }
}

/// Runs on the poll thread; a plain C function, so the record's own opaque carries the state.
private func deliveryReportCallback(
    handle: OpaquePointer?, message: UnsafePointer<rd_kafka_message_t>?, opaque: UnsafeMutableRawPointer?
) {
    guard let message, let pointer = message.pointee._private else { return }
    let report = Unmanaged<DeliveryReport>.fromOpaque(pointer).takeRetainedValue()
    let error = message.pointee.err
    if error == RD_KAFKA_RESP_ERR_NO_ERROR {
        report.completion(nil)
    } else {
        let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "?"
        report.completion(KafkaError("kafka: delivery to topic '\(topic)' failed", error))
    }
}

/// A dedicated thread serving delivery reports, so `produce` completes without callers polling.
private final class PollLoop: @unchecked Sendable {
    private let handle: OpaquePointer
    private let running = Atomic(true)
    private let finished = DispatchSemaphore(value: 0)

    init(handle: OpaquePointer) { self.handle = handle }

    func start() {
        let thread = Thread { [self] in
            while running.load(ordering: .acquiring) { _ = rd_kafka_poll(handle, 100) }
            finished.signal()
        }
        thread.name = "kafka-producer-poll"
        thread.start()
    }

    /// Returns once the thread has left its loop, so the handle can be destroyed.
    func stop() {
        running.store(false, ordering: .releasing)
        finished.wait()
    }
}
