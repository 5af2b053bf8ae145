// Events per second through decode + match (`RuleSet.evaluate`) for 10, 100 and 1,000
// rules on realistic payloads, beside decoding the same payloads with Foundation's
// JSONSerialization and with our full parser. One thread: the numbers are per core.
//
//   swift build -c release --product RulesBenchmark
//   .build/release/RulesBenchmark [seconds-per-cell [payload-prefix [rule-count]]]
import Foundation
import SyncBridgeCore

// MARK: - Payloads, shaped like Tests/Fixtures/samples

struct Payload {
    var name: String
    var topic: String
    /// Values cycle through these so that some events match and some do not.
    var values: [[UInt8]]
    var bytes: Int { values.map(\.count).reduce(0, +) / values.count }
}

let tables = (0..<1000).map { "TABLE_\($0)" }

func warehouseLoad(_ table: String, _ i: Int) -> String {
    #"{"database":"PROD","schema":"ANALYTICS","table":"\#(table)","rows":\#(1000 + i * 37),"loaded_at":"2026-11-28T21:04:12Z","job":"\#(table.lowercased())_incremental","warehouse":"LOAD_WH","query_id":"01b2c3d4-0000-5e6f-0000-0001a2b3c4d5","bytes_scanned":\#(8_000_000 + i),"duration_ms":\#(4000 + i % 900),"status":"SUCCESS","source":"snowflake","owner":"data-eng"}"#
}

func cloudEvent(_ table: String, _ i: Int) -> String {
    #"{"specversion":"1.0","type":"com.acme.warehouse.table.loaded","source":"/snowflake/prod","id":"9f1c2a7e-5b0d-4c8e-a2f1-\#(String(format: "%012d", i))","time":"2026-11-28T21:04:12.512Z","subject":"ANALYTICS.\#(table)","datacontenttype":"application/json","data":{"database":"PROD","schema":"ANALYTICS","table":"\#(table)","rows":\#(18234 + i),"max_updated_at":"2026-11-28T21:03:58Z"}}"#
}

func debezium(_ table: String, _ i: Int, padding: Int) -> String {
    let note = String(repeating: "lorem ipsum dolor sit amet, ", count: padding)
    return
        #"{"schema":null,"payload":{"before":null,"after":{"id":\#(1042 + i),"customer_id":77,"status":"paid","total_cents":4599,"note":"\#(note)","tags":["a","b",{"k":[1,2.5e3,-0.25,true,false,null]}],"updated_at":"2026-11-28T21:06:00.120Z"},"source":{"version":"2.7.3.Final","connector":"postgresql","name":"pg","ts_ms":1795914360120,"snapshot":"false","db":"shop","sequence":"[\"22906640\",\"22906728\"]","schema":"public","table":"\#(table.lowercased())","txId":7741,"lsn":22906728,"xmin":null},"op":"u","ts_ms":1795914360177,"transaction":null}}"#
}

func payload(_ name: String, topic: String, _ make: (String, Int) -> String) -> Payload {
    // Half the events name a table some rule wants (among the first ten), half do not.
    let values = (0..<64).map { i in Array(make(i % 2 == 0 ? tables[(i / 2) % 10] : "UNMAPPED_\(i)", i).utf8) }
    return Payload(name: name, topic: topic, values: values)
}

let payloads = [
    payload("warehouse-load", topic: "warehouse.prod.data-updated", warehouseLoad),
    payload("cloudevents", topic: "events.warehouse", cloudEvent),
    payload("debezium", topic: "pg.public.orders") { debezium($0, $1, padding: 1) },
    payload("debezium-large", topic: "pg.public.orders") { debezium($0, $1, padding: 50) },
]

// MARK: - Rules: a realistic table, most rules keyed on a table name

func uuid(_ i: Int) -> String { String(format: "3c0a5a8e-1d3b-4c5e-9a51-%012x", i) }

func rulesYAML(count: Int) -> String {
    var lines: [String] = []
    for i in 0..<count {
        let table = tables[i % tables.count]
        let rule: String
        switch i % 4 {
        case 0, 1:
            rule =
                #"{ name: wh-\#(i), when: { topic: "warehouse.*.data-updated", json: { /table: \#(table), /schema: [PROD, ANALYTICS], /rows: { gt: 0 } } }, sync: ["\#(uuid(i))"] }"#
        case 2:
            rule =
                #"{ name: ce-\#(i), when: { topic: "events.*", json: { /type: { glob: "com.acme.warehouse.*" }, /data/table: \#(table) } }, sync: ["\#(uuid(i))"] }"#
        default:
            rule =
                #"{ name: cdc-\#(i), when: { topic: "pg.public.*", json: { /payload/source/table: \#(table.lowercased()), /payload/op: [c, u, d] } }, sync: ["\#(uuid(i))"] }"#
        }
        lines.append("  - " + rule)
    }
    return """
        kafka: { brokers: embedded, group: bench, topics: ["^.*$"] }
        targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
        rules:
        \(lines.joined(separator: "\n"))
        """
}

// MARK: - Timing

/// Best of three runs of `seconds` each: events per second.
func rate(seconds: Double, _ body: (Int) -> Int) -> Double {
    var best = 0.0
    for _ in 0..<3 {
        let clock = ContinuousClock()
        let start = clock.now
        var events = 0, sink = 0
        while clock.now - start < .seconds(seconds) {
            for i in 0..<256 { sink &+= body(events + i) }
            events += 256
        }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if sink == 42 { print("") }  // keeps the work observable
        best = max(best, Double(events) / seconds)
    }
    return best
}

func format(_ rate: Double) -> String {
    rate >= 1e6 ? String(format: "%.2fM", rate / 1e6) : String(format: "%.0fk", rate / 1e3)
}

let seconds = CommandLine.arguments.dropFirst().first.flatMap(Double.init) ?? 0.3
/// Optional: only payloads whose name starts with this, and only this rule count (for profiling).
let only = CommandLine.arguments.dropFirst(2).first
let onlyCount = CommandLine.arguments.dropFirst(3).first.flatMap(Int.init)

print("events/s on one core (best of 3 × \(seconds)s); match = RuleSet.evaluate (lazy decode + rules)")
print("")
let header = ["payload", "bytes", "rules", "matched", "match ev/s", "full parse", "Foundation", "match÷Foundation", "full÷Foundation"]
print(header.map { $0.padding(toLength: $0 == "payload" ? 16 : $0.hasSuffix("÷Foundation") ? 17 : 12, withPad: " ", startingAt: 0) }.joined())

for payload in payloads where only.map(payload.name.hasPrefix) ?? true {
    let values = payload.values
    // Profiling one cell (a rule count given) skips the comparisons.
    let foundation =
        onlyCount != nil
        ? .nan
        : rate(seconds: seconds) { i in
            let object = try? JSONSerialization.jsonObject(with: Data(values[i & 63]), options: [])
            return object == nil ? 0 : 1
        }
    let full =
        onlyCount != nil
        ? .nan
        : rate(seconds: seconds) { i in
            (try? JSONParser.parse(values[i & 63])) == nil ? 0 : 1
        }
    for count in [10, 100, 1000] where onlyCount.map({ $0 == count }) ?? true {
        let rules = try ConfigLoader.load(text: rulesYAML(count: count), file: "bench.yaml").rules
        let events = values.map { IncomingEvent(topic: payload.topic, value: $0) }
        let matched = events.filter { !rules.evaluate($0).demands.isEmpty }.count
        let match = rate(seconds: seconds) { i in rules.evaluate(events[i & 63]).demands.count }
        let row = [payload.name, "\(payload.bytes)", "\(count)", "\(matched)/\(events.count)", format(match), format(full), format(foundation)]
        let ratios = [String(format: "%.1f×", match / foundation), String(format: "%.1f×", full / foundation)]
        print(
            row.enumerated().map { $1.padding(toLength: $0 == 0 ? 16 : 12, withPad: " ", startingAt: 0) }.joined()
                + ratios.map { $0.padding(toLength: 17, withPad: " ", startingAt: 0) }.joined())
    }
}
