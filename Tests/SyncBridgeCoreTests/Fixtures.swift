import Foundation

/// Sample events shipped with the tests (copies of the product's documented samples).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/samples")

    static func bytes(_ name: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) ?? Data())
    }

    /// `name=value` lines, as in cloudevents-binary.headers.
    static func headers(_ name: String) -> [(name: String, value: [UInt8]?)] {
        String(decoding: bytes(name), as: UTF8.self).split(separator: "\n").compactMap { line in
            guard let equals = line.firstIndex(of: "=") else { return nil }
            return (String(line[..<equals]), Array(line[line.index(after: equals)...].utf8))
        }
    }
}
