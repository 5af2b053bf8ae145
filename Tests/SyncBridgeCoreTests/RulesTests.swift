import Foundation
import Testing
@testable import SyncBridgeCore

let orders = "3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70"
let users = "7d3e2f10-2b4c-4a5d-8e6f-9a0b1c2d3e4f"
let debezium = "0b9f6d0c-6a2b-4e8f-9d3c-5e1a7b2c4d6e"

func ruleSet(_ rulesYAML: String) throws -> RuleSet {
    let text = """
        kafka: { brokers: embedded, group: g, topics: [t] }
        targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
        coalesce: { quiet: 10s, max_delay: 2m }
        rules:
        \(rulesYAML)
        """
    return try ConfigLoader.load(text: text, file: "rules.yaml").rules
}

func ids(_ match: RuleMatch) -> Set<String> { Set(match.demands.keys.map(\.integrationID)) }

@Suite struct RulesTests {
    @Test func topicExactGlobAndRegex() throws {
        let rules = try ruleSet(
            """
              - { name: exact, when: { topic: "a.data-updated" }, sync: ["\(orders)"] }
              - { name: glob, when: { topic: "warehouse.*.data-updated" }, sync: ["\(users)"] }
              - { name: regex, when: { topic: "^pg\\\\.public\\\\.(orders|items)$" }, sync: ["\(debezium)"] }
            """)
        #expect(ids(rules.evaluate(IncomingEvent(topic: "a.data-updated", value: nil))) == [orders])
        #expect(ids(rules.evaluate(IncomingEvent(topic: "warehouse.prod.data-updated", value: nil))) == [users])
        #expect(ids(rules.evaluate(IncomingEvent(topic: "pg.public.orders", value: nil))) == [debezium])
        #expect(ids(rules.evaluate(IncomingEvent(topic: "pg.public.ordersx", value: nil))).isEmpty)
    }

    @Test func unionOfAllMatchingRulesWithTightestCoalesce() throws {
        let rules = try ruleSet(
            """
              - { name: a, when: { topic: t }, sync: ["\(orders)"] }
              - { name: b, when: { topic: "t*" }, sync: ["\(orders)", "\(users)"], coalesce: { quiet: 1s } }
            """)
        let match = rules.evaluate(IncomingEvent(topic: "t", value: nil))
        #expect(match.matchedRules == ["a", "b"])
        #expect(ids(match) == [orders, users])
        #expect(match.demands[IntegrationKey(target: "braze", integrationID: orders)]?.quiet == .seconds(1))
    }

    @Test func jsonPredicatesOnWarehouseLoad() throws {
        let rules = try ruleSet(
            """
              - name: orders
                when:
                  topic: t
                  json: { /table: ORDERS, /schema: [PROD, ANALYTICS], /rows: { gt: 0, lte: 20000 }, /job: { glob: "orders_*" } }
                sync: ["\(orders)"]
              - name: big
                when: { topic: t, json: { /rows: { gt: 20000 } } }
                sync: ["\(users)"]
              - name: missing
                when: { topic: t, json: { /nope: { exists: true } } }
                sync: ["\(debezium)"]
            """)
        let match = rules.evaluate(IncomingEvent(topic: "t", value: Fixtures.bytes("warehouse-load.json")))
        #expect(match.matchedRules == ["orders"])
    }

    @Test func numbersCompareNumericallyAndTypesMatter() throws {
        let rules = try ruleSet(
            """
              - { name: n, when: { topic: t, json: { /rows: 18234.0 } }, sync: ["\(orders)"] }
              - { name: s, when: { topic: t, json: { /rows: "18234" } }, sync: ["\(users)"] }
              - { name: b, when: { topic: t, json: { /flag: true, /none: null } }, sync: ["\(debezium)"] }
            """)
        #expect(ids(rules.evaluate(IncomingEvent(topic: "t", value: Array(#"{"rows":18234}"#.utf8)))) == [orders])
        #expect(ids(rules.evaluate(IncomingEvent(topic: "t", value: Array(#"{"rows":"18234"}"#.utf8)))) == [users])
        #expect(ids(rules.evaluate(IncomingEvent(topic: "t", value: Array(#"{"flag":true,"none":null}"#.utf8)))) == [debezium])
        #expect(ids(rules.evaluate(IncomingEvent(topic: "t", value: Array(#"{"flag":"true","none":null}"#.utf8)))).isEmpty)
    }

    @Test func cloudEventsStructuredAndBinaryMode() throws {
        let rules = try ruleSet(
            """
              - name: structured
                when: { topic: t, json: { /type: com.acme.warehouse.table.loaded, /data/table: ORDERS } }
                sync: ["\(orders)"]
              - name: binary
                when: { topic: t, headers: { ce_type: "com.acme.warehouse.*", ce_subject: ["CRM.USERS", "CRM.ACCOUNTS"] }, json: { /table: USERS } }
                sync: ["\(users)"]
            """)
        #expect(ids(rules.evaluate(IncomingEvent(topic: "t", value: Fixtures.bytes("cloudevents-structured.json")))) == [orders])
        let binary = IncomingEvent(
            topic: "t", headers: Fixtures.headers("cloudevents-binary.headers"), value: Fixtures.bytes("cloudevents-binary.json"))
        #expect(ids(rules.evaluate(binary)) == [users])
        let noHeaders = IncomingEvent(topic: "t", value: Fixtures.bytes("cloudevents-binary.json"))
        #expect(ids(rules.evaluate(noHeaders)).isEmpty)
    }

    @Test func debeziumEnvelopeWithEscapedPointer() throws {
        let rules = try ruleSet(
            """
              - name: orders-cdc
                when: { topic: "pg.public.*", key: "*", json: { /payload/source/table: orders, /payload/op: [c, u, d] } }
                sync: ["\(debezium)"]
              - name: slash-key
                when: { topic: "pg.public.*", json: { "/a~1b/c~0d": 1 } }
                sync: ["\(orders)"]
            """)
        let event = IncomingEvent(topic: "pg.public.orders", key: Array("1042".utf8), value: Fixtures.bytes("debezium-orders.json"))
        #expect(ids(rules.evaluate(event)) == [debezium])
        #expect(ids(rules.evaluate(IncomingEvent(topic: "pg.public.x", key: [], value: Array(#"{"a/b":{"c~d":1}}"#.utf8)))) == [orders])
    }

    @Test func syncFromTakesValidatedIDsFromTheEvent() throws {
        let rules = try ruleSet(
            """
              - { name: named, when: { topic: cdi.requests }, sync_from: /integration_id, allow: ["\(orders)", "\(users)"] }
            """)
        func evaluate(_ json: String) -> RuleMatch { rules.evaluate(IncomingEvent(topic: "cdi.requests", value: Array(json.utf8))) }
        #expect(ids(evaluate(#"{"integration_id":"\#(orders.uppercased())"}"#)) == [orders])
        #expect(ids(evaluate(#"{"integration_id":["\#(orders)","\#(users)"]}"#)) == [orders, users])
        #expect(evaluate(#"{"integration_id":"\#(debezium)"}"#).problems.map(\.reason) == [.integrationNotAllowed])
        #expect(
            rules.evaluate(IncomingEvent(topic: "cdi.requests", value: Fixtures.bytes("malformed/sync-from-not-uuid.json"))).problems.map(\.reason)
                == [.invalidIntegrationID])
        #expect(
            rules.evaluate(IncomingEvent(topic: "cdi.requests", value: Fixtures.bytes("malformed/sync-from-number.json"))).problems.map(\.reason) == [
                .syncFromNotString
            ])
        #expect(evaluate(#"{"other":1}"#).problems.map(\.reason) == [.missingField])
    }

    @Test func malformedValuesMatchNoJSONRuleAndAreClassified() throws {
        let rules = try ruleSet(
            """
              - { name: json, when: { topic: t, json: { /table: ORDERS } }, sync: ["\(orders)"] }
              - { name: any, when: { topic: t }, sync: ["\(users)"] }
            """)
        let expectations: [(String, InvalidReason?)] = [
            ("malformed/truncated.json", .invalidJSON), ("malformed/invalid-utf8.bin", .invalidUTF8),
            ("malformed/deep-nesting.json", .tooDeep), ("malformed/empty.bin", .empty),
            ("malformed/scalar.json", nil), ("malformed/nul-escape.json", nil), ("malformed/duplicate-keys.json", nil),
        ]
        for (file, reason) in expectations {
            let match = rules.evaluate(IncomingEvent(topic: "t", value: Fixtures.bytes(file)))
            #expect(match.invalidValue == reason, "\(file)")
            #expect(ids(match).contains(users), "\(file): a rule without json predicates still matches")
        }
        let tombstone = rules.evaluate(IncomingEvent(topic: "t", value: nil))
        #expect(tombstone.invalidValue == .tombstone)
        #expect(ids(tombstone) == [users])
        let oversized = rules.evaluate(IncomingEvent(topic: "t", value: Array(repeating: UInt8(ascii: " "), count: (1 << 20) + 1)))
        #expect(oversized.invalidValue == .oversized)
    }
}

@Suite struct JSONParserTests {
    @Test func agreesWithFoundationOnSamples() throws {
        for file in [
            "cloudevents-structured.json", "debezium-orders.json", "dbt-job-run-completed.json", "fivetran-sync-end.json", "warehouse-load.json",
        ] {
            let bytes = Fixtures.bytes(file)
            let ours = try JSONParser.parse(bytes)
            let theirs = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
            #expect(ours == Self.convert(theirs), "\(file)")
        }
    }

    @Test func rejectsWhatRFC8259Rejects() throws {
        for text in ["", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "\"\\x\"", "\"a\u{01}\"", "[1] 2", "tru", "\"\\uD800\""] {
            #expect(throws: JSONError.self, "\(text.debugDescription)") { try JSONParser.parse(text) }
        }
        #expect(try JSONParser.parse("\"\\uD83D\\uDE00\"") == .string("😀"))
        #expect(try JSONParser.parse(" [1e3, -0.5, true, null] ") == .array([.number(1000), .number(-0.5), .bool(true), .null]))
    }

    static func convert(_ any: Any) -> JSONValue {
        switch any {
        case is NSNull: return .null
        // The samples hold no booleans, so every NSNumber is a number here.
        case let number as NSNumber: return .number(number.doubleValue)
        case let string as String: return .string(string)
        case let array as [Any]: return .array(array.map(convert))
        case let object as [String: Any]: return .object(object.mapValues(convert))
        default: return .null
        }
    }
}
