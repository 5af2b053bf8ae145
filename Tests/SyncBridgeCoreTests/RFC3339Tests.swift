import Foundation
import SyncBridgeCore
import Testing

@Suite("RFC 3339 times from Braze bodies")
struct RFC3339Tests {
    @Test(
        "the forms Braze and proxies send",
        arguments: [
            ("2024-05-01T10:04:30Z", 1_714_557_870.0),
            ("2024-05-01t10:04:30z", 1_714_557_870.0),
            ("2024-05-01 10:04:30Z", 1_714_557_870.0),
            ("2024-05-01T10:04:30.250Z", 1_714_557_870.25),
            ("2024-05-01T12:04:30+02:00", 1_714_557_870.0),
            ("2024-05-01T05:04:30-05:00", 1_714_557_870.0),
            ("1970-01-01T00:00:00Z", 0.0),
            ("2024-02-29T00:00:00Z", 1_709_164_800.0),
            ("2000-02-29T00:00:00Z", 951_782_400.0),
            ("1969-12-31T23:59:59Z", -1.0),
        ])
    func valid(text: String, expected: Double) {
        #expect(RFC3339.epochSeconds(text) == expected)
    }

    @Test(
        "anything else is nil, never a trap",
        arguments: [
            "", "2024-05-01", "2024-05-01T10:04:30", "2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T10:60:00Z", "2024-05-01T10:04:61Z", "2024-05-01T10:04:30.Z",
            "2024-05-01T10:04:30+2:00", "2024-05-01T10:04:30+02:60", "2024-05-01T10:04:30Zjunk", "24-05-01T10:04:30Z",
            // Found by fuzzing: each made ICU's parser divide by zero.
            "2024-05-01T10:04:30.\u{661}1111111111111111111111111111111111111111Z",
            "2024-05-01T10:04:30." + String(repeating: "9", count: 5000) + "Z",
            "\u{662}\u{660}\u{662}\u{664}-05-01T10:04:30Z",
        ])
    func invalid(text: String) {
        #expect(RFC3339.epochSeconds(text) == nil)
    }

    @Test("a fraction of any length is read to nanoseconds")
    func longFraction() throws {
        let seconds = try #require(RFC3339.epochSeconds("2024-05-01T10:04:30." + String(repeating: "1", count: 40) + "Z"))
        #expect(abs(seconds - 1_714_557_870.111_111_111) < 1e-6)
    }

    @Test("agrees with Foundation's formatter on well-formed times")
    func agreesWithFoundation() {
        let formatter = ISO8601DateFormatter()
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let moment = Date(timeIntervalSince1970: Double(Int64.random(in: -2_000_000_000...4_000_000_000, using: &generator)))
            let text = formatter.string(from: moment)
            #expect(RFC3339.epochSeconds(text) == moment.timeIntervalSince1970, "\(text)")
        }
    }
}
