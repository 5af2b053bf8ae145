#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// A plain TCP connection to the endpoints on loopback, for requests no HTTP client would send:
/// partial heads, bodies shorter than their Content-Length, bytes trickled one at a time.
/// Blocking; call it from `onOwnThread`.
final class RawHTTPConnection: @unchecked Sendable {
    private let fd: Int32
    private(set) var received: [UInt8] = []
    private(set) var peerClosed = false

    struct Failed: Error, CustomStringConvertible {
        var description: String
    }

    init(port: Int) throws {
        #if canImport(Glibc)
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        fd = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failed(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw Failed(description: "connect: errno \(errno)")
        }
    }

    deinit { close(fd) }

    /// Ends the connection from this side, as a client that gives up would.
    func disconnect() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// Sends all of `text`; false when the peer has closed or reset the connection.
    @discardableResult
    func send(_ text: String) -> Bool { send(Array(text.utf8)) }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { socketSend(fd, $0) }
            if sent <= 0 { return false }
            offset += sent
        }
        return true
    }

    /// Reads what is available for up to `seconds`; returns once the peer closed, or the time is up.
    func read(for seconds: Double) {
        let deadline = Date().addingTimeInterval(seconds)
        while !peerClosed {
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(min(left, 0.2) * 1000) + 1) > 0 else { continue }
            var buffer = [UInt8](repeating: 0, count: 65536)
            let count = recv(fd, &buffer, buffer.count, 0)
            if count <= 0 {
                peerClosed = true
            } else {
                received += buffer[..<count]
            }
        }
    }

    /// Reads until the peer closes, for at most `seconds`; true when it closed.
    func waitUntilClosed(seconds: Double) -> Bool {
        read(for: seconds)
        return peerClosed
    }

    /// Reads until one whole response (head plus Content-Length body) is in, or the peer closed,
    /// for at most `seconds`; returns the response text so far.
    func readResponse(seconds: Double) -> String {
        let deadline = Date().addingTimeInterval(seconds)
        while !peerClosed, deadline.timeIntervalSinceNow > 0, !Self.isComplete(received) {
            read(for: min(0.2, deadline.timeIntervalSinceNow))
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Forgets what was read, to read the next response on the same connection.
    func clearReceived() { received = [] }

    /// The status code of the first response read, or nil before one arrived.
    var status: Int? {
        let text = String(decoding: received.prefix(32), as: UTF8.self)
        guard text.hasPrefix("HTTP/1.1 ") else { return nil }
        return Int(text.dropFirst(9).prefix(3))
    }

    private static func isComplete(_ bytes: [UInt8]) -> Bool {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let headEnd = text.range(of: "\r\n\r\n") else { return false }
        let head = text[..<headEnd.lowerBound].lowercased()
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { return true }
        return text.utf8.count - text.utf8.distance(from: text.startIndex, to: headEnd.upperBound) >= length
    }
}

/// `send(2)` without SIGPIPE: a closed peer is an outcome the tests look for, not a crash.
private func socketSend(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    #if canImport(Glibc)
    send(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL))
    #else
    send(fd, bytes.baseAddress, bytes.count, 0)
    #endif
}
