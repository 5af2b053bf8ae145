import Foundation
import Testing
@testable import SyncBridgeCore

/// Each predicate of `when`, and each way a rules table can be wrong (SPEC §3, G9).
@Suite struct RulePredicateTests {
    func event(_ json: String?, topic: String = "t", key: String? = nil, headers: [(String, String?)] = []) -> IncomingEvent {
        IncomingEvent(
            topic: topic, key: key.map { Array($0.utf8) }, headers: headers.map { ($0.0, $0.1.map { Array($0.utf8) }) },
            value: json.map { Array($0.utf8) })
    }

    @Test func keyIsAGlobAndAMissingKeyNeverMatches() throws {
        let rules = try ruleSet(#"  - { name: k, when: { topic: t, key: "ORD?RS*" }, sync: ["\#(orders)"] }"#)
        #expect(ids(rules.evaluate(event(nil, key: "ORDERS-1042"))) == [orders])
        #expect(ids(rules.evaluate(event(nil, key: "ORDRS"))).isEmpty)
        #expect(ids(rules.evaluate(event(nil))).isEmpty)
    }

    @Test func headersTakeAGlobOrAListAndTheLastRepeatWins() throws {
        let rules = try ruleSet(
            """
              - { name: h, when: { topic: t, headers: { ce_type: "com.acme.*", source: [warehouse, "dbt-*"] } }, sync: ["\(orders)"] }
            """)
        #expect(ids(rules.evaluate(event(nil, headers: [("ce_type", "com.acme.loaded"), ("source", "dbt-cloud")]))) == [orders])
        #expect(ids(rules.evaluate(event(nil, headers: [("ce_type", "com.acme.loaded"), ("source", "fivetran")]))).isEmpty)
        #expect(ids(rules.evaluate(event(nil, headers: [("ce_type", "com.acme.loaded")]))).isEmpty, "every header must be present")
        #expect(ids(rules.evaluate(event(nil, headers: [("ce_type", "com.acme.x"), ("source", "fivetran"), ("source", "warehouse")]))) == [orders])
        #expect(ids(rules.evaluate(event(nil, headers: [("CE_TYPE", "com.acme.x"), ("source", "warehouse")]))).isEmpty, "names are case-sensitive")
    }

    @Test func scalarEqualityByType() throws {
        let rules = try ruleSet(
            """
              - { name: int, when: { topic: t, json: { /v: 1000 } }, sync: ["\(orders)"] }
              - { name: exp, when: { topic: t, json: { /v: 1e3 } }, sync: ["\(users)"] }
              - { name: neg, when: { topic: t, json: { /v: -0.5 } }, sync: ["\(debezium)"] }
            """)
        #expect(ids(rules.evaluate(event(#"{"v":1000.0}"#))) == [orders, users])
        #expect(ids(rules.evaluate(event(#"{"v":-5e-1}"#))) == [debezium])
        #expect(ids(rules.evaluate(event(#"{"v":"1000"}"#))).isEmpty)
        let typed = try ruleSet(
            """
              - { name: yes, when: { topic: t, json: { /v: True } }, sync: ["\(orders)"] }
              - { name: none, when: { topic: t, json: { /v: ~ } }, sync: ["\(users)"] }
              - { name: text, when: { topic: t, json: { /v: "true" } }, sync: ["\(debezium)"] }
            """)
        #expect(ids(typed.evaluate(event(#"{"v":true}"#))) == [orders])
        #expect(ids(typed.evaluate(event(#"{"v":null}"#))) == [users])
        #expect(ids(typed.evaluate(event(#"{"v":"true"}"#))) == [debezium])
        #expect(ids(typed.evaluate(event(#"{}"#))).isEmpty, "a missing value is not null")
    }

    @Test func listIsAnyOfMixedScalars() throws {
        let rules = try ruleSet(#"  - { name: l, when: { topic: t, json: { /v: [ORDERS, 7, false, null] } }, sync: ["\#(orders)"] }"#)
        for json in [#"{"v":"ORDERS"}"#, #"{"v":7.0}"#, #"{"v":false}"#, #"{"v":null}"#] {
            #expect(ids(rules.evaluate(event(json))) == [orders], "\(json)")
        }
        for json in [#"{"v":"orders"}"#, #"{"v":8}"#, #"{"v":["ORDERS"]}"#, #"{}"#] {
            #expect(ids(rules.evaluate(event(json))).isEmpty, "\(json)")
        }
    }

    @Test func operators() throws {
        let rules = try ruleSet(
            """
              - { name: exists, when: { topic: t, json: { /a: { exists: true } } }, sync: ["\(orders)"] }
              - { name: absent, when: { topic: t, json: { /a: { exists: false } } }, sync: ["\(users)"] }
              - { name: glob, when: { topic: t, json: { /s: { glob: "ORD*" } } }, sync: ["\(debezium)"] }
            """)
        #expect(ids(rules.evaluate(event(#"{"a":null,"s":"ORDERS"}"#))) == [orders, debezium])
        #expect(ids(rules.evaluate(event(#"{"s":7}"#))) == [users], "glob never matches a non-string")
        let ranges = try ruleSet(
            """
              - { name: gt, when: { topic: t, json: { /n: { gt: 10 } } }, sync: ["\(orders)"] }
              - { name: gte-lt, when: { topic: t, json: { /n: { gte: 10, lt: 20 } } }, sync: ["\(users)"] }
              - { name: lte, when: { topic: t, json: { /n: { lte: -1.5 } } }, sync: ["\(debezium)"] }
              - { name: regex, when: { topic: t, json: { /s: { regex: "^[A-Z]+_v[0-9]+$" } } }, sync: ["\(orders)"] }
            """)
        #expect(ids(ranges.evaluate(event(#"{"n":10}"#))) == [users])
        #expect(ids(ranges.evaluate(event(#"{"n":19.99}"#))) == [orders, users])
        #expect(ids(ranges.evaluate(event(#"{"n":20}"#))) == [orders])
        #expect(ids(ranges.evaluate(event(#"{"n":-1.5}"#))) == [debezium])
        #expect(ids(ranges.evaluate(event(#"{"n":"30"}"#))).isEmpty, "comparisons need a number")
        #expect(ranges.evaluate(event(#"{"s":"ORDERS_v12"}"#)).matchedRules == ["regex"])
        #expect(ranges.evaluate(event(#"{"s":"ORDERS_v12x"}"#)).matchedRules.isEmpty)
    }

    @Test func pointersIntoArraysAndEscapedTokens() throws {
        let rules = try ruleSet(#"  - { name: p, when: { topic: t, json: { /items/1/id: 7, "/m~0n/o~1p": x } }, sync: ["\#(orders)"] }"#)
        #expect(ids(rules.evaluate(event(#"{"items":[{"id":1},{"id":7}],"m~n":{"o/p":"x"}}"#))) == [orders])
        #expect(ids(rules.evaluate(event(#"{"items":[{"id":7}],"m~n":{"o/p":"x"}}"#))).isEmpty)
    }

    @Test func aRuleWithoutJSONMatchesNonJSONButAJSONRuleDoesNot() throws {
        let rules = try ruleSet(
            """
              - { name: plain, when: { topic: t }, sync: ["\(orders)"] }
              - { name: json, when: { topic: t, json: { /v: { exists: false } } }, sync: ["\(users)"] }
            """)
        let match = rules.evaluate(event("not json"))
        #expect(ids(match) == [orders])
        #expect(match.invalidValue == .invalidJSON)
        #expect(ids(rules.evaluate(event("{}"))) == [orders, users])
    }

    @Test func perRuleTargetAndAllowAny() throws {
        let text = """
            kafka: { brokers: embedded, group: g, topics: [t] }
            targets:
              - { name: us, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }
              - { name: eu, endpoint: "https://rest.fra-01.braze.eu", api_key_env: K2 }
            rules:
              - { name: a, when: { topic: t }, target: eu, sync: ["\(orders)"] }
              - { name: b, when: { topic: t }, target: us, sync_from: /id, allow_any: true }
            """
        let rules = try ConfigLoader.load(text: text, file: "sb.yaml").rules
        let match = rules.evaluate(event(#"{"id":"\#(users)"}"#))
        #expect(Set(match.demands.keys) == [IntegrationKey(target: "eu", integrationID: orders), IntegrationKey(target: "us", integrationID: users)])
    }

    @Test func indexedAndScannedRulesMatchInRuleOrder() throws {
        let rules = try ruleSet(
            """
              - { name: scan-first, when: { topic: t, json: { /n: { gte: 1 } } }, sync: ["\(orders)"] }
              - { name: by-table, when: { topic: t, json: { /table: ORDERS, /n: 2 } }, sync: ["\(users)"] }
              - { name: plain, when: { topic: t }, sync: ["\(debezium)"] }
              - { name: any-of, when: { topic: t, json: { /n: [2, 3] } }, sync: ["\(orders)"] }
              - { name: keyed, when: { topic: t, key: "k*", json: { /table: ORDERS } }, sync: ["\(users)"] }
            """)
        #expect(
            rules.evaluate(event(#"{"table":"ORDERS","n":2.0}"#, key: "k1")).matchedRules == ["scan-first", "by-table", "plain", "any-of", "keyed"])
        #expect(rules.evaluate(event(#"{"table":"ORDERS","n":3}"#)).matchedRules == ["scan-first", "plain", "any-of"])
        #expect(rules.evaluate(event(#"{"table":"USERS"}"#)).matchedRules == ["plain"])
    }

    @Test func theValueIsReadOnlyWhenARuleThatNeedsItPassesKeyAndHeaders() throws {
        let rules = try ruleSet(
            """
              - { name: keyed, when: { topic: t, key: "k*", json: { /table: ORDERS } }, sync: ["\(orders)"] }
              - { name: plain, when: { topic: t }, sync: ["\(users)"] }
            """)
        let other = rules.evaluate(event("not json", key: "x"))
        #expect(other.invalidValue == nil, "no rule needing JSON applied, so the value was not judged")
        #expect(other.matchedRules == ["plain"])
        #expect(rules.evaluate(event("not json", key: "k1")).invalidValue == .invalidJSON)
    }

    // MARK: - Validation (G9): every problem, with its file and line

    static func problems(_ rules: String) -> [String] {
        issues(
            """
            kafka: { brokers: embedded, group: g, topics: [t] }
            targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
            rules:
            \(rules)
            """)
    }

    @Test func unknownKeysSuggestTheClosestName() {
        let found = Self.problems(
            """
              - name: a
                wehn: { topic: t }
                sync: ["\(orders)"]
              - name: b
                when: { topc: t }
                sync: ["\(orders)"]
              - name: c
                when: { topic: t, json: { /n: { gtt: 1 } } }
                sync: ["\(orders)"]
              - name: d
                when: { topic: t }
                sync: ["\(orders)"]
                coalesce: { quite: 1s }
            """)
        #expect(found.contains("sb.yaml:5: unknown key 'wehn' in a rule; did you mean 'when'?"))
        #expect(found.contains("sb.yaml:8: unknown key 'topc' in rule 'b' when; did you mean 'topic'?"))
        #expect(found.contains("sb.yaml:11: unknown key 'gtt' in a JSON predicate; did you mean 'gt'?"))
        #expect(found.contains("sb.yaml:16: unknown key 'quite' in coalesce; did you mean 'quiet'?"))
    }

    @Test func badPointersRegexesAndIDs() {
        let found = Self.problems(
            """
              - name: a
                when: { topic: t, json: { "/a~2b": 1 } }
                sync: ["\(orders)"]
              - name: b
                when: { topic: t, json: { /s: { regex: "([a-z" } } }
                sync: ["\(orders)"]
              - name: c
                when: { topic: t }
                sync: ["\(orders)", "3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f7"]
              - name: d
                when: { topic: t }
                sync_from: integration_id
                allow_any: true
              - name: e
                when: { topic: t }
                sync_from: /id
                allow: [nope]
              - name: f
                when: { topic: t, json: { /n: { gt: many } } }
                sync: ["\(orders)"]
              - name: g
                when: { topic: t }
            """)
        #expect(found.count == 7, "\(found)")
        #expect(
            found.contains(
                "sb.yaml:5: rule 'a' when.json: JSON pointer '/a~2b' has a '~' not followed by 0 or 1; write '~0' for '~' and '~1' for '/'"))
        #expect(found.contains { $0.hasPrefix("sb.yaml:8: rule 'b': regex '([a-z' is not valid") })
        #expect(found.contains { $0.hasPrefix("sb.yaml:12: rule 'c': '3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f7' is not a Braze integration ID") })
        #expect(found.contains("sb.yaml:15: rule 'd' sync_from: JSON pointer 'integration_id' must start with '/' (RFC 6901), for example '/table'"))
        #expect(found.contains("sb.yaml:20: rule 'e' allow: 'nope' is not a Braze integration ID (a UUID)"))
        #expect(found.contains("sb.yaml:22: rule 'f': gt needs a number"))
        #expect(found.contains("sb.yaml:24: rule 'g' needs sync: [integration IDs] or sync_from: /json/pointer"))
    }

    @Test func rulesFileErrorsNameThatFileAndItsLines() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("syncbridge.yaml")
        try """
        kafka: { brokers: embedded, group: g, topics: [t] }
        targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
        rules_file: rules.yaml
        """.write(to: config, atomically: true, encoding: .utf8)
        let rulesFile = directory.appendingPathComponent("rules.yaml")
        try """
        - name: ok
          when: { topic: t }
          sync: ["\(orders)"]
        - name: typo
          when: { topic: t }
          snyc: ["\(orders)"]
        - name: ok
          when: {}
          sync: ["\(orders)"]
        """.write(to: rulesFile, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigLoader.load(path: config.path, environment: [:])
            Issue.record("expected errors")
        } catch {
            #expect(
                error.issues.map(\.description) == [
                    "\(rulesFile.path):6: unknown key 'snyc' in a rule; did you mean 'sync'?",
                    "\(rulesFile.path):4: rule 'typo' needs sync: [integration IDs] or sync_from: /json/pointer",
                    "\(rulesFile.path):8: rule 'ok' has an empty when, which would match every event; add at least a topic",
                ])
        }
        try """
        - name: ok
          when: { topic: t, json: { /table: ORDERS } }
          sync: ["\(orders)"]
        """.write(to: rulesFile, atomically: true, encoding: .utf8)
        let loaded = try ConfigLoader.load(path: config.path, environment: [:])
        #expect(loaded.rulesFile == rulesFile.path)
        #expect(ids(loaded.rules.evaluate(event(#"{"table":"ORDERS"}"#))) == [orders])
    }

    @Test func aMissingOrEmptyRulesFileIsReported() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("rules-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("syncbridge.yaml")
        try """
        kafka: { brokers: embedded, group: g, topics: [t] }
        targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
        rules_file: missing.yaml
        """.write(to: config, atomically: true, encoding: .utf8)
        #expect(throws: ConfigErrors.self) { try ConfigLoader.load(path: config.path, environment: [:]) }
        do { _ = try ConfigLoader.load(path: config.path, environment: [:]) } catch {
            #expect(error.issues.first?.description.hasPrefix(directory.appendingPathComponent("missing.yaml").path + ":") == true)
        }
    }
}
