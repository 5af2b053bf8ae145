import Foundation
import Testing
@testable import SyncBridgeCore

/// User regexes (`^regex` topic matchers, `regex:` JSON predicates, `^regex`
/// entries of `kafka.topics`) run on untrusted bytes, so they are matched in linear time (RE2),
/// and the syntax RE2 leaves out is refused at load with a pointer to RE2's syntax.
///
/// The timing tests carry a time limit so that a backtracking engine fails them rather than
/// hanging the run: it needs minutes to hours for each of their subjects.
@Suite struct LinearRegexTests {
    /// Patterns that backtrack exponentially, each with a 100 kB subject that makes it try
    /// every split of the input before failing.
    static let pathological: [(pattern: String, subject: String)] = [
        ("^(a+)+$", String(repeating: "a", count: 100_000) + "b"),
        ("(a|aa)+$", String(repeating: "a", count: 100_000) + "!"),
        ("(a*)*b", String(repeating: "a", count: 100_000)),
        ("(x+x+)+y", String(repeating: "x", count: 100_000)),
    ]

    @Test(.timeLimit(.minutes(1))) func catastrophicBacktrackingPatternsRunIn100kBInputsInMilliseconds() throws {
        let clock = ContinuousClock()
        let elapsed = try clock.measure {
            for (pattern, subject) in Self.pathological {
                let regex = try CompiledRegex(pattern)
                #expect(!regex.matches(subject), "\(pattern)")
            }
            // The same patterns still match when the subject allows it, after the whole scan.
            #expect(try CompiledRegex("^(a+)+$").matches(String(repeating: "a", count: 100_000)))
            #expect(try CompiledRegex("(x+x+)+y").matches(String(repeating: "x", count: 100_000) + "y"))
        }
        // A backtracking engine needed 22 s for the first pattern on 19 characters.
        #expect(elapsed < .seconds(1), "took \(elapsed)")
    }

    @Test(.timeLimit(.minutes(1))) func matchingCostGrowsLinearlyWithTheSubject() throws {
        let regex = try CompiledRegex("(x+x+)+y")
        let small = String(repeating: "x", count: 10_000) + "y"
        let large = String(repeating: "x", count: 100_000) + "y"
        #expect(regex.matches(small) && regex.matches(large))  // also warms RE2's caches
        // The fastest of several runs discards scheduler noise, which only ever adds time.
        func fastest(_ subject: String) -> Duration {
            (0..<15).map { _ in ContinuousClock().measure { _ = regex.matches(subject) } }.min()!
        }
        let ratio = fastest(large) / max(fastest(small), .microseconds(1))
        // Linear is about 10; anything exponential would be astronomically more.
        #expect(ratio < 50, "100 kB took \(ratio)× as long as 10 kB")
    }

    @Test(arguments: [
        // Unanchored search, as before: `^` and `$` anchor.
        ("abc", "xxabcxx", true),
        ("^abc", "abcd", true), ("^abc", "xabc", false),
        ("abc$", "xabc", true), ("abc$", "abcx", false),
        ("^pg\\.public\\.(orders|items)$", "pg.public.items", true),
        ("^pg\\.public\\.(orders|items)$", "pg.public.ordersx", false),
        // Classes.
        ("^[A-Z]+_v[0-9]+$", "ORDERS_v12", true), ("^[A-Z]+_v[0-9]+$", "ORDERS_v12x", false),
        ("^\\d+$", "2024", true), ("^\\w+$", "a_b1", true), ("\\s", "a b", true), ("\\s", "ab", false),
        ("^[[:alpha:]]+$", "abc", true), ("\\bword\\b", "a word here", true), ("\\bword\\b", "swordfish", false),
        // Unicode: `.` and classes take whole code points, not bytes.
        ("^.$", "日", true), ("^é+$", "ééé", true), ("^[^a]$", "ü", true),
        ("^\\p{Greek}+$", "αβγ", true), ("^\\p{Greek}+$", "abc", false),
        // Case-insensitive flag, including outside ASCII.
        ("(?i)^orders$", "ORDERS", true), ("^orders$", "ORDERS", false), ("(?i)^ÉTÉ$", "été", true),
        // The empty pattern matches everything.
        ("", "anything", true), ("^$", "", true),
    ])
    func anchorsClassesUnicodeAndCaseFolding(pattern: String, subject: String, expected: Bool) throws {
        #expect(try CompiledRegex(pattern).matches(subject) == expected)
    }

    @Test func embeddedNULsAndReplacedBytesAreOrdinaryCharacters() throws {
        // Bytes are passed with their length, so a NUL neither ends the pattern nor the subject.
        let nulInPattern = try CompiledRegex("^a\u{0}b$")
        #expect(nulInPattern.matches("a\u{0}b"))
        #expect(!nulInPattern.matches("a"))
        #expect(!nulInPattern.matches("a\u{0}c"))
        #expect(try CompiledRegex("^a\\x00b$").matches("a\u{0}b"))
        // Keys and header values are decoded with replacement, so an invalid byte is one character.
        let decoded = String(decoding: [0x61, 0xFF, 0x62], as: UTF8.self)
        #expect(try CompiledRegex("^a.b$").matches(decoded))
    }

    @Test func oneRegexIsSafeToMatchFromManyTasksAtOnce() async throws {
        let regex = try CompiledRegex("^(?i)order-[0-9]+$")
        let mismatches = await withTaskGroup(of: Int.self) { group in
            for task in 0..<8 {
                group.addTask {
                    (0..<500).filter { n in
                        regex.matches("ORDER-\(task)\(n)") != true || regex.matches("order-\(n)x") != false
                    }.count
                }
            }
            return await group.reduce(0, +)
        }
        #expect(mismatches == 0)
    }

    @Test(arguments: [
        ("(a)\\1", "invalid escape sequence: \\1 (backreferences are not supported)"),
        ("(?P<n>a)\\k<n>", "invalid escape sequence: \\k (backreferences are not supported)"),
        ("(?=a)b", "invalid perl operator: (?= (lookahead is not supported)"),
        ("a(?!b)", "invalid perl operator: (?! (lookahead is not supported)"),
        ("(?<=a)b", "invalid perl operator: (?< (lookbehind is not supported; write a named group as (?P<name>...))"),
        ("(?<!a)b", "invalid perl operator: (?< (lookbehind is not supported; write a named group as (?P<name>...))"),
        ("a++", "bad repetition operator: ++ (possessive quantifiers are not supported, nor needed: RE2 never backtracks)"),
        ("(?>a+)b", "invalid perl operator: (?> (atomic groups are not supported, nor needed: RE2 never backtracks)"),
        ("a{2,1}", "invalid repetition size: {2,1}"),
        ("([a-z", "missing ]: [a-z"),
        ("(?i)(\\pL|\\pN){1,1000}", "pattern too large - compile failed (it would need more than 8 MiB; use smaller repetition counts)"),
    ])
    func syntaxRE2LeavesOutIsRefusedNamingRE2(pattern: String, reason: String) {
        let yamlPattern = pattern.replacingOccurrences(of: "\\", with: "\\\\")
        let found = issues(
            """
            kafka: { brokers: embedded, group: g, topics: [t] }
            targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
            rules:
              - { name: r, when: { topic: t, json: { /s: { regex: "\(yamlPattern)" } } }, sync: ["\(orders)"] }
              - { name: k, when: { topic: "^\(yamlPattern)" }, sync: ["\(orders)"] }
            """)
        let reference = "(https://github.com/google/re2/wiki/Syntax)"
        #expect(found.count == 2, "\(found)")
        #expect(
            found.contains { line in
                line == "sb.yaml:4: rule 'r': regex '\(pattern)' is not valid RE2 syntax \(reference): \(reason)"
            }, "\(found)")
        #expect(
            found.contains { line in
                line == "sb.yaml:5: when.topic '^\(pattern)' is not a valid regex in RE2 syntax \(reference): \(reason)"
            }, "\(found)")
    }

    @Test(.timeLimit(.minutes(1))) func aHostileValueAgainstABacktrackingProneRuleIsRejectedQuickly() throws {
        let rules = try ruleSet(
            """
              - { name: nested, when: { topic: t, json: { /v: { regex: "^(a+)+$" } } }, sync: ["\(orders)"] }
              - { name: topic, when: { topic: "^(a+)+$" }, sync: ["\(users)"] }
            """)
        let hostile = String(repeating: "a", count: 30) + "b"
        let clock = ContinuousClock()
        var match: RuleMatch?
        var topicMatch: RuleMatch?
        let elapsed = clock.measure {
            match = rules.evaluate(IncomingEvent(topic: "t", value: Array(#"{"v":"\#(hostile)"}"#.utf8)))
            topicMatch = rules.evaluate(IncomingEvent(topic: hostile, value: nil))
        }
        #expect(match?.matchedRules == [])
        #expect(topicMatch?.matchedRules == [])
        #expect(elapsed < .seconds(1), "took \(elapsed)")
        // Still a working pattern.
        #expect(rules.evaluate(IncomingEvent(topic: "t", value: Array(#"{"v":"aaaa"}"#.utf8))).matchedRules == ["nested"])
    }

    @Test(.timeLimit(.minutes(1))) func aKafkaTopicsPatternChecksHostileTopicNamesQuickly() throws {
        // The ingress asks this of every `^regex` entry of kafka.topics for each request's topic.
        let matcher = try TextMatcher("^(a+)+$")
        let clock = ContinuousClock()
        var matched = true
        let elapsed = clock.measure { matched = matcher.matches(String(repeating: "a", count: 5_000) + "b") }
        #expect(!matched)
        #expect(elapsed < .seconds(1), "took \(elapsed)")
        #expect(
            issues(
                """
                kafka: { brokers: embedded, group: g, topics: ["^(a)\\\\1"] }
                targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
                rules:
                  - { name: r, when: { topic: t }, sync: ["\(orders)"] }
                """
            ).contains { $0.contains("kafka.topics entry '^(a)\\1'") })
    }
}
