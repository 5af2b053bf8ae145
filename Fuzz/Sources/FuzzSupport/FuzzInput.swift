/// Helpers shared by the fuzz targets: splitting one input into the parts a target needs,
/// and stopping the run (libFuzzer records a crash and saves the input) when a property fails.
public enum FuzzInput {
    /// The input split at its first `count - 1` NUL bytes; missing parts are empty.
    /// NUL separates parts because no text format under test gives it a meaning.
    public static func parts(_ data: UnsafePointer<UInt8>, _ size: Int, count: Int) -> [[UInt8]] {
        let bytes = UnsafeBufferPointer(start: data, count: size)
        var parts: [[UInt8]] = []
        var start = 0
        for index in bytes.indices where parts.count < count - 1 && bytes[index] == 0 {
            parts.append(Array(bytes[start..<index]))
            start = index + 1
        }
        parts.append(Array(bytes[start...]))
        while parts.count < count { parts.append([]) }
        return parts
    }

    public static func bytes(_ data: UnsafePointer<UInt8>, _ size: Int) -> [UInt8] {
        Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// Lines before the first empty line (CR tolerated), and the bytes after it: the shape of
    /// an HTTP message head and body, or an event's headers and value.
    public static func headAndBody(_ bytes: [UInt8]) -> (head: [String], body: [UInt8]) {
        var lines: [String] = []
        var start = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") {
                var line = bytes[start..<index]
                if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                start = index + 1
                if line.isEmpty { return (lines, Array(bytes[start...])) }
                lines.append(String(decoding: line, as: UTF8.self))
            }
            index += 1
        }
        if start < bytes.count { lines.append(String(decoding: bytes[start...], as: UTF8.self)) }
        return (lines, [])
    }

    /// `Name: value` lines as pairs; a line without a colon is a name with an empty value.
    public static func headerFields(_ lines: some Sequence<String>) -> [(name: String, value: String)] {
        lines.map { line in
            guard let colon = line.firstIndex(of: ":") else { return (line, "") }
            let value = line[line.index(after: colon)...].drop { $0 == " " || $0 == "\t" }
            return (String(line[..<colon]), String(value))
        }
    }

    /// Stops the run with `message` when `condition` is false: a broken property is a finding,
    /// so libFuzzer must treat it like a crash and keep the input.
    public static func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        if !condition() { fatalError("property failed: " + message()) }
    }

    /// A short, printable rendering of bytes for failure messages.
    public static func show(_ bytes: some Collection<UInt8>) -> String {
        String(decoding: bytes.prefix(400), as: UTF8.self).debugDescription + (bytes.count > 400 ? "…" : "")
    }
}
