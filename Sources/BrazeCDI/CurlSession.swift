import CCurl
import Foundation
import Dispatch
import Synchronization

/// A raw HTTP response as curl delivered it.
struct HTTPExchange: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    /// Connections curl had to open; 0 when a kept-alive one was reused.
    var newConnections = 0
}

/// One request for `CurlSession.perform`.
struct CurlRequest: Sendable {
    enum Method: Sendable { case get, post }

    var method: Method
    var url: String
    var headers: [String]
    var body: String?
    var timeout: Duration
}

private let curlGlobalInit: CURLcode = sb_curl_global_init()

/// Runs blocking `curl_easy_perform` calls on a dedicated queue and keeps finished easy
/// handles in a small pool, so their connections are kept alive and reused.
final class CurlSession: Sendable {
    private struct EasyHandle: @unchecked Sendable {
        let raw: UnsafeMutableRawPointer
    }

    /// Bodies beyond this size are refused; CDI answers are small.
    private static let maxBodyBytes = 4 << 20
    private static let maxIdleHandles = 8

    private let idle = Mutex<[EasyHandle]>([])

    init() {
        _ = curlGlobalInit
    }

    deinit {
        for handle in idle.withLock({ $0 }) { curl_easy_cleanup(handle.raw) }
    }

    /// Performs the request; fails only when no HTTP response arrived.
    func perform(_ request: CurlRequest) async -> Result<HTTPExchange, TransferFailure> {
        let cancelled = CancellationFlag()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Off the cooperative pool, whose few threads must never block. A fresh serial
                // queue gets its own thread; a shared concurrent queue would be capped near the
                // core count, so slow transfers would delay unrelated ones.
                DispatchQueue(label: "BrazeCDI.curl").async {
                    continuation.resume(returning: self.performBlocking(request, cancelled: cancelled))
                }
            }
        } onCancel: {
            cancelled.set()
        }
    }

    private func checkOut() -> EasyHandle? {
        if let handle = idle.withLock({ $0.popLast() }) { return handle }
        return curl_easy_init().map(EasyHandle.init)
    }

    private func checkIn(_ handle: EasyHandle) {
        // Reset drops our options and pointers but keeps live connections for reuse.
        curl_easy_reset(handle.raw)
        let pooled = idle.withLock { handles in
            guard handles.count < Self.maxIdleHandles else { return false }
            handles.append(handle)
            return true
        }
        if !pooled { curl_easy_cleanup(handle.raw) }
    }

    private func performBlocking(_ request: CurlRequest, cancelled: CancellationFlag) -> Result<HTTPExchange, TransferFailure> {
        guard let handle = checkOut() else { return .failure(TransferFailure("cannot create a curl handle")) }
        defer { checkIn(handle) }
        let easy = handle.raw

        let sink = ResponseSink(cancelled: cancelled, maxBodyBytes: Self.maxBodyBytes)
        let sinkPointer = Unmanaged.passRetained(sink)
        defer { sinkPointer.release() }

        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE))
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE))
        defer { errorBuffer.deallocate() }

        var headerList: UnsafeMutablePointer<curl_slist>?
        for header in request.headers { headerList = curl_slist_append(headerList, header) }
        defer { curl_slist_free_all(headerList) }

        let timeoutMS = max(
            1,
            Int(request.timeout.components.seconds) * 1000
                + Int(request.timeout.components.attoseconds / 1_000_000_000_000_000))
        let userdata = sinkPointer.toOpaque()

        var codes: [CURLcode] = [
            sb_curl_setopt_string(easy, CURLOPT_URL, request.url),
            sb_curl_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https"),
            sb_curl_setopt_long(easy, CURLOPT_NOSIGNAL, 1),
            sb_curl_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutMS),
            sb_curl_setopt_long(easy, CURLOPT_CONNECTTIMEOUT_MS, min(timeoutMS, 10_000)),
            sb_curl_setopt_long(easy, CURLOPT_SSL_VERIFYPEER, 1),
            sb_curl_setopt_long(easy, CURLOPT_SSL_VERIFYHOST, 2),
            sb_curl_setopt_long(easy, CURLOPT_TCP_KEEPALIVE, 1),
            sb_curl_setopt_long(easy, CURLOPT_FOLLOWLOCATION, 0),
            sb_curl_setopt_slist(easy, CURLOPT_HTTPHEADER, headerList),
            sb_curl_setopt_pointer(easy, CURLOPT_ERRORBUFFER, errorBuffer),
            sb_curl_setopt_write_callback(easy, ResponseSink.onBody),
            sb_curl_setopt_pointer(easy, CURLOPT_WRITEDATA, userdata),
            sb_curl_setopt_header_callback(easy, ResponseSink.onHeader),
            sb_curl_setopt_pointer(easy, CURLOPT_HEADERDATA, userdata),
            sb_curl_setopt_progress_callback(easy, ResponseSink.onProgress),
            sb_curl_setopt_pointer(easy, CURLOPT_XFERINFODATA, userdata),
            sb_curl_setopt_long(easy, CURLOPT_NOPROGRESS, 0),
        ]
        switch request.method {
        case .get:
            codes.append(sb_curl_setopt_long(easy, CURLOPT_HTTPGET, 1))
        case .post:
            let body = request.body ?? ""
            // libcurl silently re-sends a request whose reused connection dies after sending;
            // a trigger must never reach Braze twice for one budget token, so it gets a new connection.
            codes.append(sb_curl_setopt_long(easy, CURLOPT_FRESH_CONNECT, 1))
            codes.append(sb_curl_setopt_long(easy, CURLOPT_POST, 1))
            codes.append(sb_curl_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.utf8.count))
            codes.append(sb_curl_setopt_string(easy, CURLOPT_COPYPOSTFIELDS, body))
        }
        if let failed = codes.first(where: { $0 != CURLE_OK }) {
            return .failure(TransferFailure(code: failed, detail: nil))
        }

        let code = curl_easy_perform(easy)
        guard code == CURLE_OK else {
            if cancelled.isSet { return .failure(TransferFailure("request cancelled")) }
            return .failure(TransferFailure(code: code, detail: String(cString: errorBuffer)))
        }
        var status = 0
        var newConnections = 0
        _ = sb_curl_getinfo_long(easy, CURLINFO_RESPONSE_CODE, &status)
        _ = sb_curl_getinfo_long(easy, CURLINFO_NUM_CONNECTS, &newConnections)
        return .success(HTTPExchange(status: status, headers: sink.headers, body: sink.body, newConnections: newConnections))
    }
}

/// Why a transfer produced no HTTP response.
struct TransferFailure: Error, Sendable {
    var message: String

    init(_ message: String) { self.message = message }

    init(code: CURLcode, detail: String?) {
        let summary = String(cString: curl_easy_strerror(code))
        if let detail, !detail.isEmpty {
            message = "\(summary): \(detail)"
        } else {
            message = summary
        }
    }
}

private final class CancellationFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}

/// Collects one transfer's headers and body; curl's callbacks reach it through userdata.
private final class ResponseSink {
    let cancelled: CancellationFlag
    let maxBodyBytes: Int
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []

    init(cancelled: CancellationFlag, maxBodyBytes: Int) {
        self.cancelled = cancelled
        self.maxBodyBytes = maxBodyBytes
    }

    static func from(_ userdata: UnsafeMutableRawPointer?) -> ResponseSink {
        Unmanaged<ResponseSink>.fromOpaque(userdata!).takeUnretainedValue()
    }

    static let onBody: sb_curl_data_callback = { data, size, count, userdata in
        let sink = ResponseSink.from(userdata)
        let length = size * count
        // Returning less than `length` makes curl abort the transfer.
        guard sink.body.count + length <= sink.maxBodyBytes else { return 0 }
        if let data { sink.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length)) }
        return length
    }

    static let onHeader: sb_curl_data_callback = { data, size, count, userdata in
        let sink = ResponseSink.from(userdata)
        let length = size * count
        guard let data else { return length }
        let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
        if line.hasPrefix("HTTP/") {
            // A new status line (after 100 Continue, say): only the final response's headers count.
            sink.headers.removeAll()
        } else if let colon = line.firstIndex(of: ":") {
            let name = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
            sink.headers.append((name, value))
        }
        return length
    }

    static let onProgress: sb_curl_progress_callback = { userdata, _, _, _, _ in
        ResponseSink.from(userdata).cancelled.isSet ? 1 : 0
    }
}
