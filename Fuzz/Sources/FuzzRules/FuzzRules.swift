import FuzzSupport
import SyncBridgeCore

/// The rules compiler and evaluator. An input is a rules list (YAML, as under `rules:`), a NUL,
/// then one event: its topic on the first line, then `Name: value` header lines and a
/// `key=<text>` line for the record key, an empty line, and the value (no empty line: a tombstone).
///
/// Compiling may only fail with `ConfigErrors`. Evaluating must agree with `explain`, which
/// tests every predicate of every rule without the indexes, caches and lazy extraction of the
/// hot path: the same rules match and the same integrations are demanded, first and second time.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRules(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = FuzzInput.parts(data, size, count: 2)
    let rulesText = String(decoding: parts[0], as: UTF8.self)
    if rulesText.contains("rules_file") { return -1 }
    let rules: RuleSet
    do {
        rules = try ConfigLoader.load(text: configPrefix + rulesText, file: "rules.yaml").rules
    } catch {
        FuzzInput.require(!error.issues.isEmpty, "ConfigErrors without an issue")
        return 0
    }
    let event = event(parts[1])
    let first = rules.evaluate(event)
    let again = rules.evaluate(event)
    let explained = rules.explain(event)
    let matched = first.matchedRules.sorted()
    let expected = explained.rules.filter(\.matched).map(\.rule).sorted()
    FuzzInput.require(matched == expected, "evaluate matched \(matched), explain \(expected) for \(FuzzInput.show(parts[1]))")
    FuzzInput.require(again.matchedRules.sorted() == matched, "a second evaluation matched \(again.matchedRules), the first \(first.matchedRules)")
    let demanded = Set(first.demands.keys.map(\.integrationID))
    let explainedIDs = Set(explained.rules.filter(\.matched).flatMap(\.integrations))
    FuzzInput.require(demanded == explainedIDs, "evaluate demanded \(demanded.sorted()), explain \(explainedIDs.sorted())")
    return 0
}

let configPrefix = """
    kafka: { brokers: embedded, group: g, topics: [t] }
    targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
    coalesce: { quiet: 10s, max_delay: 2m }
    rules:

    """

func event(_ bytes: [UInt8]) -> IncomingEvent {
    var lines: [String] = []
    var start = 0
    var value: [UInt8]?
    for index in bytes.indices where index >= start && bytes[index] == UInt8(ascii: "\n") {
        let line = String(decoding: bytes[start..<index], as: UTF8.self)
        start = index + 1
        if line.isEmpty {
            value = Array(bytes[start...])
            break
        }
        lines.append(line)
    }
    if value == nil, start < bytes.count { lines.append(String(decoding: bytes[start...], as: UTF8.self)) }
    let topic = lines.first ?? ""
    var key: [UInt8]?
    var headers: [(name: String, value: [UInt8]?)] = []
    for line in lines.dropFirst() {
        if line.hasPrefix("key="), !line.contains(":") {
            key = Array(line.utf8.dropFirst(4))
        } else if line.contains(":") {
            headers += FuzzInput.headerFields([line]).map { ($0.name, Array($0.value.utf8)) }
        } else {
            headers.append((line, nil))  // Kafka headers may have no value
        }
    }
    return IncomingEvent(topic: topic, key: key, headers: headers, value: value)
}
