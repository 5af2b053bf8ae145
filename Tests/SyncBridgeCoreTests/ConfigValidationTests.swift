import Foundation
import Testing
@testable import SyncBridgeCore

/// G9 for hostile or mistyped configs: each problem is `file:line: message`, every one is
/// reported in the same pass, and no value can crash the loader.
@Suite struct ConfigValidationTests {
    /// validConfig plus an `http:` section starting on line 23.
    static func withHTTP(_ lines: String) -> String { validConfig + "\nhttp:\n" + lines }

    // MARK: Limits (each of these used to trap with SIGILL instead of answering)

    @Test func hugeDurationIsRefusedWithTheMaximum() {
        let text = validConfig.replacingOccurrences(of: "quiet: 10s", with: "quiet: 99999999999999h")
        #expect(issues(text) == ["sb.yaml:12: coalesce.quiet '99999999999999h' is too long; the maximum is 720h (30 days)"])
        let flow = validConfig.replacingOccurrences(of: "coalesce: { quiet: 30s }", with: "coalesce: { quiet: 99999999999999h }")
        #expect(issues(flow) == ["sb.yaml:22: coalesce.quiet '99999999999999h' is too long; the maximum is 720h (30 days)"])
        let digits = validConfig.replacingOccurrences(of: "max_delay: 2m", with: "max_delay: \(String(repeating: "9", count: 400))s")
        #expect(issues(digits).first?.hasPrefix("sb.yaml:13: coalesce.max_delay '999") == true)
        #expect(issues(digits).first?.hasSuffix("is too long; the maximum is 720h (30 days)") == true)
        let exactlyMax = validConfig.replacingOccurrences(of: "max_delay: 2m", with: "max_delay: 720h")
        #expect(issues(exactlyMax) == [])
    }

    @Test func hugeCountsAreRefusedWithTheirLimits() {
        let rate = validConfig.replacingOccurrences(of: "rate_limit: \"20/1m\"", with: "rate_limit: \"99999999999999999999/1m\"")
        #expect(
            issues(rate) == [
                "sb.yaml:10: targets.braze.rate_limit '99999999999999999999/1m' allows too many requests; the maximum COUNT is 1000000 per window"
            ])
        let window = validConfig.replacingOccurrences(of: "rate_limit: \"20/1m\"", with: "rate_limit: \"20/99999999999999h\"")
        #expect(issues(window) == ["sb.yaml:10: targets.braze.rate_limit '20/99999999999999h' has too long a window; the maximum is 720h (30 days)"])
        let uncommitted = validConfig.replacingOccurrences(
            of: "  dead_letter_topic:", with: "  max_uncommitted: \"99999999999999999999\"\n  dead_letter_topic:")
        #expect(
            issues(uncommitted) == ["sb.yaml:5: kafka.max_uncommitted '99999999999999999999' must be a whole number of events from 1 to 100000000"])
    }

    @Test func hugeByteSizeIsReportedNotTrapped() {
        #expect(ConfigLoader.parseByteSize("99999999999999999999MiB") == .max)
        #expect(ConfigLoader.parseByteSize("9000000000000MiB") == .max)
        #expect(ConfigLoader.parseByteSize("2MiB") == 2 << 20)
        #expect(ConfigLoader.parseByteSize("-1MiB") == nil)
        let found = issues(Self.withHTTP("  max_body: 99999999999999999999MiB"))
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("sb.yaml:24: http.max_body '99999999999999999999MiB'") == true)
        #expect(
            issues(Self.withHTTP("  max_inflight_body: 99999999999999999999MiB")) == [
                "sb.yaml:24: http.max_inflight_body '99999999999999999999MiB' is too large; the maximum is 1000000000 bytes (1GB)"
            ])
    }

    // MARK: http.listen

    @Test func listenMustBeHostAndPort() {
        #expect(
            issues(Self.withHTTP("  listen: 18099")) == [
                "sb.yaml:24: http.listen '18099' is only a port; give a host too (127.0.0.1:18099 for this machine only, 0.0.0.0:18099 for every interface); write HOST:PORT, like 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080"
            ])
        let cases: [(String, String)] = [
            ("localhost", "'localhost' has no :PORT"),
            ("\"host:99999\"", "'host:99999' has port '99999', which is not a number from 0 to 65535"),
            ("\"[::1]:\"", "'[::1]:' has no port after the colon"),
            ("\":8080\"", "':8080' has no host; write 0.0.0.0:8080"),
            ("\"::1:8080\"", "'::1:8080' has an IPv6 address without brackets"),
            ("\"exa mple:80\"", "'exa mple:80' has a host that is not a host name or an IP address"),
            ("\"[::1:80\"", "'[::1:80' has an unclosed or empty [IPv6] address"),
        ]
        for (value, fragment) in cases {
            let found = issues(Self.withHTTP("  listen: \(value)"))
            #expect(found.count == 1, "\(value)")
            #expect(found.first?.hasPrefix("sb.yaml:24: http.listen \(fragment)") == true, "\(value): \(found)")
        }
        for good in ["127.0.0.1:8080", "0.0.0.0:0", "localhost:65535", "\"[::1]:8080\"", "my-host.internal:80"] {
            #expect(issues(Self.withHTTP("  listen: \(good)")) == [], "\(good)")
        }
    }

    @Test func listenAddressParsesEveryForm() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:8080") == ListenAddress(host: "127.0.0.1", port: 8080))
        #expect(try ListenAddress(parsing: "[::1]:0") == ListenAddress(host: "::1", port: 0))
        #expect(try ListenAddress(parsing: "[fe80::1%eth0]:80").host == "fe80::1%eth0")
        #expect(ListenAddress(host: "::1", port: 80).description == "[::1]:80")
        for bad in ["", "18099", "localhost", "host:", "host:-1", "host:+80", "host:99999999999999999999", "[]:80", "[::1]", "a b:80", ":80"] {
            #expect(throws: ListenAddress.Invalid.self, "\(bad)") { try ListenAddress(parsing: bad) }
        }
    }

    // MARK: Duplicate keys

    @Test func everyDuplicateKeyIsReportedAtItsOwnLine() {
        let text = """
            kafka:
              brokers: embedded
              group: g
              topics: [t]
              group: h
            targets:
              - { name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }
            coalesce:
              quiet: 10s
              max_delay: 2m
              quiet: 20s
              quiet: 30s
            rules:
              - name: a
                when: { topic: t, topic: u }
                sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"]
            """
        let found = issues(text)
        #expect(
            found == [
                "sb.yaml:5: duplicate key 'group', first given on line 3; keep one of them",
                "sb.yaml:11: duplicate key 'quiet', first given on line 9; keep one of them",
                "sb.yaml:12: duplicate key 'quiet', first given on line 9; keep one of them",
                "sb.yaml:15: duplicate key 'topic', first given on line 15; keep one of them",
            ])
        #expect(!found.contains { $0.contains("\n") })
    }

    @Test func duplicateKeysDoNotHideOtherProblems() {
        let text = """
            kafka: { brokers: embedded, group: g, topics: [t] }
            targets:
              - name: braze
                endpoint: "https://rest.iad-01.braze.com"
                api_key_env: K
                name: braze2
                timeout: forever
            rules:
              - { name: a, when: { topic: t }, sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"] }
            """
        #expect(
            issues(text) == [
                "sb.yaml:6: duplicate key 'name', first given on line 3; keep one of them",
                "sb.yaml:7: targets.braze.timeout 'forever' is not a duration; write it like 250ms, 10s, 5m or 1h",
            ])
    }

    @Test func quotedAndTopLevelDuplicatesAreFound() {
        let text = """
            kafka: { brokers: embedded, group: g, topics: [t] }
            targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
            "rules":
              - { name: a, when: { topic: t }, sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"] }
            'rules': []
            """
        #expect(issues(text) == ["sb.yaml:5: duplicate key 'rules', first given on line 3; keep one of them"])
    }

    @Test func duplicatePositionsCountLikeLibYAML() {
        // Columns are counted in Unicode scalars and CR LF is one line break.
        let crlf =
            "kafka: { brokers: embedded, group: g, topics: [t] }\r\ntargets: [{ name: braze, endpoint: \"https://rest.iad-01.braze.com\", api_key_env: K }]\r\n"
            + "coalesce: { \"é€😀\": 1, quiet: 1s, \"é€😀\": 2, quiet: 2s }\r\nrules: []\r\n"
        let found = issues(crlf)
        #expect(
            found.filter { $0.contains("duplicate key") } == [
                "sb.yaml:3: duplicate key 'é€😀', first given on line 3; keep one of them",
                "sb.yaml:3: duplicate key 'quiet', first given on line 3; keep one of them",
            ])
    }

    @Test func anchoredAndTaggedDuplicatesAreFound() {
        let text = """
            kafka: { brokers: embedded, group: g, topics: [t] }
            coalesce:
              &first quiet: 1s
              !!str quiet: 2s
              max_delay: 1m
              max_delay: 2m
            """
        #expect(
            issues(text).filter { $0.contains("duplicate key") } == [
                "sb.yaml:4: duplicate key 'quiet', first given on line 3; keep one of them",
                "sb.yaml:6: duplicate key 'max_delay', first given on line 5; keep one of them",
            ])
    }

    @Test func aDuplicateThatCannotBeRenamedIsStillReportedAtItsLine() {
        let text = """
            kafka: { brokers: embedded, group: g, topics: [t] }
            coalesce:
              ? [a]
              : 1s
              ? [a]
              : 2s
            """
        let found = issues(text)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("sb.yaml:3: not valid YAML: duplicate key") == true)
        #expect(found.first?.contains("\n") == false)
    }

    @Test func duplicateKeysInARulesFileAreReportedInThatFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dupkeys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let rulesPath = directory.appendingPathComponent("rules.yaml").path
        try """
        - name: a
          when: { topic: t }
          sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"]
          name: b
        """.write(toFile: rulesPath, atomically: true, encoding: .utf8)
        let configPath = directory.appendingPathComponent("sb.yaml").path
        try """
        kafka: { brokers: embedded, group: g, topics: [t] }
        targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
        rules_file: rules.yaml
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(path: configPath, environment: [:]) }
        do {
            _ = try ConfigLoader.load(path: configPath, environment: [:])
        } catch {
            #expect(error.issues == [ConfigIssue(file: rulesPath, line: 4, message: "duplicate key 'name', first given on line 1; keep one of them")])
        }
    }

    @Test func manyDuplicatesAreAllReportedQuickly() {
        let body = (0..<150).map { "  quiet: \($0)s" }.joined(separator: "\n")
        let text = "kafka: { brokers: embedded, group: g, topics: [t] }\ncoalesce:\n" + body
        let started = ContinuousClock.now
        let found = issues(text).filter { $0.contains("duplicate key") }
        #expect(ContinuousClock.now - started < .seconds(5))
        #expect(found.count == 149)
        #expect(found.first == "sb.yaml:4: duplicate key 'quiet', first given on line 3; keep one of them")
        #expect(found.last == "sb.yaml:152: duplicate key 'quiet', first given on line 3; keep one of them")
    }

    @Test func beyondTheRenameBudgetOneDuplicateIsStillReportedShortly() {
        let body = (0..<(DuplicateKeys.maxRenames + 50)).map { "  quiet: \($0)s" }.joined(separator: "\n")
        let text = "kafka: { brokers: embedded, group: g, topics: [t] }\ncoalesce:\n" + body
        let started = ContinuousClock.now
        let found = issues(text)
        #expect(ContinuousClock.now - started < .seconds(10))
        #expect(found.count == 1)
        #expect(found.first?.contains("duplicate key 'quiet'") == true)
        #expect(found.first?.contains("\n") == false)
    }

    // MARK: Empty tokens, topic names

    @Test func emptyIngressTokenIsRefused() {
        let literal = issues(Self.withHTTP("  ingress_tokens: [\"\", good-token]"))
        #expect(
            literal == [
                "sb.yaml:24: http.ingress_tokens entry is empty (check that its ${VARIABLE} is set); an empty token would accept requests with no credentials"
            ])
        let fromEnvironment = issues(Self.withHTTP("  ingress_tokens:\n    - ok-token\n    - ${HOOK_TOKEN}"), environment: ["HOOK_TOKEN": ""])
        #expect(fromEnvironment.count == 1)
        #expect(fromEnvironment.first?.hasPrefix("sb.yaml:26: http.ingress_tokens entry is empty") == true)
        let spaced = issues(Self.withHTTP("  ingress_tokens: \"a token\""))
        #expect(spaced.first?.hasPrefix("sb.yaml:24: http.ingress_tokens entry contains a space") == true)
        #expect(issues(Self.withHTTP("  ingress_tokens: [t0ken]")) == [])
    }

    @Test func illegalTopicNamesAreRefusedAtTheirLines() {
        let long = String(repeating: "a", count: 250)
        let text = """
            kafka:
              brokers: embedded
              group: g
              topics:
                - ""
                - a/b.data-updated
                - "a%2Fb"
                - \(long)
                - "."
                - ok_topic.v1-x
                - "^ok\\\\..+$"
              dead_letter_topic: "dead letters"
            targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
            rules:
              - { name: a, when: { topic: ok_topic.v1-x }, sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"] }
            """
        let found = issues(text)
        #expect(
            found == [
                "sb.yaml:5: kafka.topics entry: topic name is empty; a pattern starts with ^",
                "sb.yaml:6: kafka.topics entry: topic name \"a/b.data-updated\" contains '/'; Kafka allows only letters a-z A-Z, digits, '.', '_' and '-'; a pattern starts with ^",
                "sb.yaml:7: kafka.topics entry: topic name \"a%2Fb\" contains '%'; Kafka allows only letters a-z A-Z, digits, '.', '_' and '-'; a pattern starts with ^",
                "sb.yaml:8: kafka.topics entry: topic name is 250 bytes long; Kafka allows at most 249; a pattern starts with ^",
                "sb.yaml:9: kafka.topics entry: topic name \".\" is reserved by Kafka; a pattern starts with ^",
                "sb.yaml:12: kafka.dead_letter_topic: topic name \"dead letters\" contains U+0020; Kafka allows only letters a-z A-Z, digits, '.', '_' and '-'",
            ])
    }

    @Test func kafkaTopicNameRule() {
        #expect(KafkaTopicName.problem(with: "warehouse.orders.data-updated") == nil)
        #expect(KafkaTopicName.problem(with: "A_b-9") == nil)
        #expect(KafkaTopicName.problem(with: String(repeating: "x", count: 249)) == nil)
        #expect(KafkaTopicName.problem(with: String(repeating: "x", count: 250)) == "topic name is 250 bytes long; Kafka allows at most 249")
        #expect(KafkaTopicName.problem(with: "") == "topic name is empty")
        #expect(KafkaTopicName.problem(with: "..") == "topic name \"..\" is reserved by Kafka")
        #expect(KafkaTopicName.problem(with: "...") == nil)
        #expect(KafkaTopicName.problem(with: "a\u{0}b")?.contains("U+0000") == true)
        #expect(KafkaTopicName.problem(with: "a\u{0}b")?.contains("\"a\\u{0}b\"") == true)
        #expect(KafkaTopicName.problem(with: "café")?.contains("U+00E9") == true)
        // Never echoes a long name in full.
        let hostile = String(repeating: "é", count: 120)
        #expect(KafkaTopicName.problem(with: hostile)!.count < 300)
        #expect(
            KafkaTopicName.problem(with: String(repeating: "é", count: 60))!.hasSuffix("Kafka allows only letters a-z A-Z, digits, '.', '_' and '-'"))
    }

    // MARK: All at once

    @Test func G9_anInvalidTopicRegexHidesNothing() {
        let text = """
            kafka:
              brokers: embedded
              group: g
              topics: ["^([a-z", "bad topic"]
              dead_letter_topic: ".."
              max_uncommitted: "0"
            targets:
              - { name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K, rate_limit: "99999999999999999999/1m" }
            coalesce: { quiet: 99999999999999h }
            http: { listen: 18099, ingress_tokens: [""] }
            rules:
              - { name: e, when: { topic: t }, sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"] }
              - { name: e, when: { topic: t }, sync: ["3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"], sync: [] }
            """
        let found = issues(text)
        #expect(found.count == 10, "\(found.joined(separator: "\n"))")
        #expect(found.contains { $0.hasPrefix("sb.yaml:4: kafka.topics entry '^([a-z' is not a valid regex") })
        #expect(found.contains { $0.hasPrefix("sb.yaml:4: kafka.topics entry: topic name \"bad topic\" contains U+0020") })
        #expect(found.contains { $0.hasPrefix("sb.yaml:5: kafka.dead_letter_topic: topic name \"..\" is reserved by Kafka") })
        #expect(found.contains { $0.hasPrefix("sb.yaml:6: kafka.max_uncommitted '0'") })
        #expect(found.contains { $0.hasPrefix("sb.yaml:8: targets.braze.rate_limit") })
        #expect(found.contains { $0.hasPrefix("sb.yaml:9: coalesce.quiet '99999999999999h' is too long") })
        #expect(found.contains { $0.hasPrefix("sb.yaml:10: http.listen '18099' is only a port") })
        #expect(found.contains { $0.hasPrefix("sb.yaml:10: http.ingress_tokens entry is empty") })
        #expect(found.contains("sb.yaml:13: duplicate key 'sync', first given on line 13; keep one of them"))
        #expect(found.contains("sb.yaml:13: duplicate rule name 'e'; rule names must be unique"))
    }
}

/// `kafka.mode` and the internal topics of fleet mode.
@Suite struct FleetConfigTests {
    func with(_ lines: String) -> String {
        validConfig.replacingOccurrences(
            of: "  dead_letter_topic: syncbridge.dead-letter", with: "  dead_letter_topic: syncbridge.dead-letter\n" + lines)
    }

    @Test func internalTopicsDefaultToTheGroupsName() throws {
        let config = try ConfigLoader.load(text: with("  mode: partitioned"), file: "sb.yaml", environment: [:])
        #expect(config.kafka.mode == .partitioned)
        #expect(config.kafka.requestsTopic == "syncbridge.requests")
        #expect(config.kafka.stateTopic == "syncbridge.state")
        #expect(config.kafka.requestsGroup == "syncbridge.requests")
        let direct = try ConfigLoader.load(text: validConfig, file: "sb.yaml", environment: [:])
        #expect(direct.kafka.mode == .direct)
        #expect(direct.kafka.stateTopic == "syncbridge.state", "direct mode remembers running jobs across restarts too")
    }

    @Test func anEmptyStateTopicTurnsItOffInDirectModeOnly() throws {
        let off = try ConfigLoader.load(text: with("  state_topic: \"\""), file: "sb.yaml", environment: [:])
        #expect(off.kafka.stateTopic == nil)
        #expect(
            issues(with("  mode: partitioned\n  state_topic: \"\"")) == [
                "sb.yaml:7: kafka.state_topic may not be empty in partitioned mode: a new owner needs it to take over a workspace's budget"
            ])
    }

    @Test func badModesAndTopicNamesAreRefusedAtTheirLines() {
        #expect(
            issues(with("  mode: sharded")) == [
                "sb.yaml:6: kafka.mode 'sharded' is not a mode; use 'direct' (one replica) or 'partitioned' (several replicas sharing each workspace's budget)"
            ])
        let badName = issues(with("  requests_topic: \"a b\""))
        #expect(badName.count == 1 && badName[0].hasPrefix("sb.yaml:6: kafka.requests_topic: "))
        let source = validConfig.replacingOccurrences(
            of: "topics: [\"^.+\\\\.data-updated$\"]", with: "topics: [\"x.data-updated\", \"fleet.requests\"]"
        )
        .replacingOccurrences(
            of: "  dead_letter_topic: syncbridge.dead-letter", with: "  dead_letter_topic: syncbridge.dead-letter\n  requests_topic: fleet.requests")
        #expect(
            issues(source) == [
                "sb.yaml:6: kafka.requests_topic 'fleet.requests' is also consumed through kafka.topics; an internal topic must not be a source (rename it or narrow the pattern)"
            ])
        let pattern = validConfig.replacingOccurrences(of: #"topics: ["^.+\\.data-updated$"]"#, with: #"topics: ["^syncbridge\\..+$"]"#)
        #expect(issues(pattern) == [], "direct mode: the state topic matching a pattern is only skipped")
        #expect(
            issues(
                pattern.replacingOccurrences(
                    of: "  dead_letter_topic: syncbridge.dead-letter", with: "  dead_letter_topic: syncbridge.dead-letter\n  mode: partitioned")) == [
                    "sb.yaml:4: kafka.requests_topic 'syncbridge.requests' is also consumed through kafka.topics; an internal topic must not be a source (rename it or narrow the pattern)"
                ])
    }
}
