/// A `HOST:PORT` to listen on: `127.0.0.1:8080`, `0.0.0.0:8080`, `localhost:8080`, `[::1]:8080`.
/// The one parser for `http.listen` and every `--listen` flag, so a value that passes
/// `rules check` is one the server can bind.
public struct ListenAddress: Equatable, Sendable, CustomStringConvertible {
    /// A host name or an IP address; an IPv6 address without its brackets.
    public var host: String
    /// 0 asks the system for a free port.
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why `text` is not a listen address, with the form it should take.
    public struct Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        public var text: String
        public var problem: String

        public var description: String {
            "'\(text.count > 100 ? text.prefix(100) + "..." : text)' \(problem); write HOST:PORT, like 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080"
        }
    }

    public init(parsing text: String) throws(Invalid) {
        func invalid(_ problem: String) -> Invalid { Invalid(text: text, problem: problem) }
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            throw invalid("is only a port; give a host too (127.0.0.1:\(text) for this machine only, 0.0.0.0:\(text) for every interface)")
        }
        guard let colon = text.lastIndex(of: ":") else { throw invalid("has no :PORT") }
        let hostPart = text[..<colon]
        let portPart = text[text.index(after: colon)...]
        guard !portPart.isEmpty else { throw invalid("has no port after the colon") }
        guard portPart.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let port = Int(saturatingDecimal: portPart), port <= 65535
        else { throw invalid("has port '\(portPart.prefix(20))', which is not a number from 0 to 65535") }

        let host: Substring
        if hostPart.hasPrefix("[") {
            guard hostPart.hasSuffix("]"), hostPart.count > 2 else { throw invalid("has an unclosed or empty [IPv6] address") }
            host = hostPart.dropFirst().dropLast()
            guard
                host.utf8.allSatisfy({
                    Self.isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "%") || Self.isNameByte($0)
                }),
                host.contains(":")
            else { throw invalid("has '\(hostPart.prefix(60))', which is not an IPv6 address") }
        } else {
            host = hostPart
            if host.isEmpty { throw invalid("has no host; write 0.0.0.0:\(port) to listen on every interface") }
            if host.contains(":") { throw invalid("has an IPv6 address without brackets; write it like [::1]:\(port)") }
            guard host.utf8.allSatisfy(Self.isNameByte), host.utf8.count <= 253 else {
                throw invalid("has a host that is not a host name or an IP address")
            }
        }
        self.init(host: String(host), port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains(byte | 0x20)
    }

    /// Letters, digits, '-', '.', and '_' (which some container hosts use).
    private static func isNameByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte | 0x20)
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
    }
}
