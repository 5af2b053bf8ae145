import Foundation
import PropertyBased
import Testing
@testable import SyncBridgeCore

/// Random JSON documents with the awkward parts: escapes, non-ASCII and canonically
/// equivalent keys, duplicate keys, deep nesting, odd numbers and whitespace.
enum JSONDocuments {
    static let keys = ["table", "a", "b", "data", "a/b", "c~d", "K", "\u{212A}", "é", "e\u{301}", "0", "1", "", "ключ", "😀", "x\"y"]
    static let strings = ["ORDERS", "", "a\\b", "line\nbreak", "tab\t", "\u{0}", "é", "😀", "\u{7F}", "/", "\u{2028}"]
    static let numbers = ["0", "-0", "1", "-1", "18234", "0.5", "-0.25", "1e3", "2.5E-3", "1E+2", "123456789012345678901234567890", "1e400"]

    static func value(depth: Int, _ rng: inout SplitMix64) -> String {
        switch Int.random(in: 0..<(depth > 5 ? 5 : 8), using: &rng) {
        case 0: return ["true", "false", "null"].randomElement(using: &rng)!
        case 1, 2: return numbers.randomElement(using: &rng)!
        case 3, 4: return string(strings.randomElement(using: &rng)!, &rng)
        case 5:
            let count = Int.random(in: 0...4, using: &rng)
            return "[" + (0..<count).map { _ in space(&rng) + value(depth: depth + 1, &rng) + space(&rng) }.joined(separator: ",") + "]"
        default:
            let count = Int.random(in: 0...5, using: &rng)
            let members = (0..<count).map { _ in
                space(&rng) + string(keys.randomElement(using: &rng)!, &rng) + space(&rng) + ":" + space(&rng) + value(depth: depth + 1, &rng)
            }
            return "{" + members.joined(separator: ",") + space(&rng) + "}"
        }
    }

    static func space(_ rng: inout SplitMix64) -> String {
        ["", "", "", " ", "\n ", "\t", "\r\n"].randomElement(using: &rng)!
    }

    /// A JSON string literal, with characters escaped in one of the permitted ways at random.
    static func string(_ text: String, _ rng: inout SplitMix64) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            let mustEscape = scalar == "\"" || scalar == "\\" || scalar.value < 0x20
            if mustEscape || Int.random(in: 0..<6, using: &rng) == 0 {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n" where Bool.random(using: &rng): out += "\\n"
                case "/" where Bool.random(using: &rng): out += "\\/"
                default:
                    for unit in String(scalar).utf16 { out += String(format: "\\u%04X", unit) }
                }
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    static func pointer(_ rng: inout SplitMix64) -> JSONPointer {
        let tokens = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
            (keys + ["2", "01", "-"]).randomElement(using: &rng)!
        }
        let text = tokens.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
        return try! JSONPointer(text)
    }

    /// Breaks a document the ways real inputs break: truncation, stray and invalid bytes.
    static func mutate(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = bytes
        let specials: [UInt8] = [
            0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x2C, 0x3A, 0x00, 0x1F, 0x80, 0xBF, 0xC0, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF, 0x30, 0x2D, 0x65,
            0x2E, 0x75,
        ]
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0 where !bytes.isEmpty: bytes.remove(at: at)
            case 1: bytes.insert(specials.randomElement(using: &rng)!, at: at)
            case 2 where !bytes.isEmpty: bytes[at] = specials.randomElement(using: &rng)!
            default: bytes.removeSubrange(at...)
            }
        }
        return bytes
    }
}

@Suite struct JSONExtractorTests {
    /// Extraction agrees with the full parser: the same error, or the same value at every pointer.
    static func agree(_ bytes: [UInt8], _ pointers: [JSONPointer]) -> Bool {
        let set = JSONPointerSet(pointers)
        let full = Result { () throws(JSONError) in try JSONParser.parse(bytes) }
        let lazy = Result { () throws(JSONError) in try JSONParser.extract(set, from: bytes) }
        switch (full, lazy) {
        case (.failure(let expected), .failure(let found)):
            #expect(expected == found, "\(String(decoding: bytes, as: UTF8.self).debugDescription)")
            return expected == found
        case (.success(let document), .success(let values)):
            for pointer in pointers {
                let expected = document.resolve(pointer)
                let found = values[set.slot(of: pointer)!]
                #expect(expected == found, "\(pointer) in \(String(decoding: bytes, as: UTF8.self).debugDescription)")
                if expected != found { return false }
            }
            return true
        default:
            Issue.record("validity differs: full \(full), lazy \(lazy) for \(String(decoding: bytes, as: UTF8.self).debugDescription)")
            return false
        }
    }

    static func pointers(_ rng: inout SplitMix64) -> [JSONPointer] {
        (0..<Int.random(in: 1...6, using: &rng)).map { _ in JSONDocuments.pointer(&rng) }
    }

    @Test func agreesWithTheFullParserOnGeneratedDocuments() async {
        await propertyCheck(count: 2000, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SplitMix64(seed: UInt64(seed))
            let document = Array(JSONDocuments.value(depth: 0, &rng).utf8)
            _ = Self.agree(document, Self.pointers(&rng))
        }
    }

    @Test func agreesWithTheFullParserOnMutatedDocuments() async {
        await propertyCheck(count: 4000, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SplitMix64(seed: UInt64(seed))
            let document = JSONDocuments.mutate(Array(JSONDocuments.value(depth: 0, &rng).utf8), &rng)
            _ = Self.agree(document, Self.pointers(&rng))
        }
    }

    @Test func agreesWithFoundationOnValidity() async {
        await propertyCheck(count: 3000, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SplitMix64(seed: UInt64(seed))
            var document = Array(JSONDocuments.value(depth: 0, &rng).utf8)
            if Bool.random(using: &rng) { document = JSONDocuments.mutate(document, &rng) }
            let ours = (try? JSONParser.extract(JSONPointerSet(Self.pointers(&rng)), from: document)) != nil
            let foundation = (try? JSONSerialization.jsonObject(with: Data(document), options: [.fragmentsAllowed])) != nil
            // The one known difference: Foundation refuses numbers beyond Double's range (1e400);
            // RFC 8259 §9 leaves that to the parser, and ours reads them as ±infinity.
            // And Foundation guesses UTF-16/32 from NUL bytes or a byte-order mark at the start;
            // event values must be UTF-8 (RFC 8259 §8.1), so ours rejects those.
            if !ours, foundation,
                document.prefix(4).contains(0) || document.starts(with: [0xEF, 0xBB, 0xBF]) || document.starts(with: [0xFE, 0xFF])
                    || document.starts(with: [0xFF, 0xFE])
            {
                return
            }
            // And Foundation lets a trailing comma through ("[0,]"), which RFC 8259 forbids.
            if !ours, foundation, (try? JSONParser.parse(Self.withoutTrailingCommas(document))) != nil { return }
            if ours, !foundation, let value = try? JSONParser.parse(document), Self.hasInfinity(value) { return }
            #expect(ours == foundation, "\(String(decoding: document, as: UTF8.self).debugDescription)")
        }
    }

    static func withoutTrailingCommas(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in bytes {
            if byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") {
                while let last = out.last, [0x20, 0x09, 0x0A, 0x0D].contains(last) { out.removeLast() }
                if out.last == UInt8(ascii: ",") { out.removeLast() }
            }
            out.append(byte)
        }
        return out
    }

    static func hasInfinity(_ value: JSONValue) -> Bool {
        switch value {
        case .number(let number): return number.isInfinite
        case .array(let elements): return elements.contains(where: hasInfinity)
        case .object(let members): return members.values.contains(where: hasInfinity)
        default: return false
        }
    }

    @Test func samplesAndMalformedFixturesAgree() {
        let files =
            [
                "cloudevents-structured.json", "debezium-orders.json", "dbt-job-run-completed.json", "fivetran-sync-end.json",
                "warehouse-load.json", "cloudevents-binary.json",
            ]
            + [
                "truncated.json", "invalid-utf8.bin", "deep-nesting.json", "empty.bin", "scalar.json", "nul-escape.json",
                "duplicate-keys.json", "sync-from-not-uuid.json", "sync-from-number.json",
            ].map { "malformed/" + $0 }
        let pointers = [
            "", "/table", "/data/table", "/payload/source/table", "/payload/op", "/data", "/payload/after/id",
            "/integration_id", "/rows", "/schema",
        ].map { try! JSONPointer($0) }
        for file in files { #expect(Self.agree(Fixtures.bytes(file), pointers), "\(file)") }
    }

    @Test func edgeCases() {
        let cases = [
            #"{"a":{"b":1},"a":{"c":2}}"#,  // the last duplicate wins, also below it
            #"{"a":{"b":1},"a":5}"#,
            #"{"K":1,"K":2}"#,  // KELVIN SIGN is canonically equivalent to K
            #"{"e\u0301":1}"#, #"{"\u00e9":1}"#, #"{"a\/b":{"c~d":[0,{"x":1}]}}"#,
            String(repeating: "[", count: 64) + String(repeating: "]", count: 64),
            String(repeating: "[", count: 65) + String(repeating: "]", count: 65),
            #"{"skip":"# + String(repeating: "[", count: 64) + String(repeating: "]", count: 64) + #","a":1}"#,
            #"{"skip":"\uD800","a":1}"#, #"{"skip":"\uDC00x"}"#, #"{"skip":"\u00zz"}"#, "{\"skip\":\"\u{01}\"}", #"{"a":1}x"#,
            "\u{FEFF}{}", #"{"a":[1,2,3],"b":01}"#, #"{"a":-}"#, #"{"a":1.}"#, #"{"a":tru}"#, " ", "",
        ]
        let pointers = ["", "/a", "/a/b", "/a/c", "/K", "/\u{212A}", "/é", "/e\u{301}", "/a~1b/c~0d/1/x", "/0", "/0/0"].map { try! JSONPointer($0) }
        for text in cases { #expect(Self.agree(Array(text.utf8), pointers), "\(text)") }
        #expect(Self.agree([0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D], pointers), "invalid UTF-8 in a skipped string")
        #expect(Self.agree([0xFF, 0xFE, 0x7B, 0x7D], pointers), "UTF-16 byte-order mark")
    }

    @Test func numbersReadAsTheStandardLibraryReadsThem() async {
        await propertyCheck(count: 2000, input: Gen.int(in: 0...Int.max)) { seed in
            var rng = SplitMix64(seed: UInt64(seed))
            let digits = String(UInt64.random(in: 0...UInt64.max, using: &rng)).prefix(Int.random(in: 1...19, using: &rng))
            let integer = digits.count > 1 ? String(digits.drop { $0 == "0" }.isEmpty ? "0" : digits.drop { $0 == "0" }) : String(digits)
            let sign = Bool.random(using: &rng) ? "-" : ""
            let fraction = Int.random(in: 0..<3, using: &rng) == 0 ? ".\(Int.random(in: 0...999, using: &rng))" : ""
            let exponent = Int.random(in: 0..<4, using: &rng) == 0 ? "e\(Int.random(in: -30...30, using: &rng))" : ""
            let text = sign + integer + fraction + exponent
            #expect((try? JSONParser.parse(text)) == .number(Double(text)!), "\(text)")
        }
    }

    @Test func utf8ValidatorMatchesTheStandardLibrary() async {
        await propertyCheck(count: 3000, input: Gen.uint8().array(of: 0...8)) { bytes in
            let ours = bytes.withUnsafeBufferPointer { JSONParser.isValidUTF8($0, 0..<$0.count) }
            #expect(ours == (String(validating: bytes, as: UTF8.self) != nil), "\(bytes)")
        }
    }
}
