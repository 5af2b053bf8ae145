import ArgumentParser
import Foundation
import SyncBridgeCore

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate rules, or show which rules an event matches.",
        subcommands: [Check.self, TestEvent.self]
    )

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate the config and rules: exit 0 if valid, 2 with file:line messages if not.")

        @Option(help: "The config file (YAML).") var config: String

        func run() throws {
            let settings = try loadConfig(config)
            let rules = settings.rules.rules
            print(
                "\(config): ok: \(rules.count) rule\(rules.count == 1 ? "" : "s"), \(settings.targets.count) target\(settings.targets.count == 1 ? "" : "s")"
            )
        }
    }

    struct TestEvent: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "test",
            abstract: "Show which rules match an event and why, and what it would trigger."
        )

        @Option(help: "The config file (YAML).") var config: String
        @Option(help: "The topic the event arrives on.") var topic: String
        @Option(help: "The message key.") var key: String?
        @Option(name: .customLong("header"), help: "A header, NAME=VALUE; repeatable.") var headers: [String] = []
        @Flag(help: "Print JSON for scripts.") var json = false
        @Argument(help: "The event value: a file, or - for standard input; omit for a tombstone.") var event: String?

        func run() throws {
            let settings = try loadConfig(config)
            var parsedHeaders: [(name: String, value: [UInt8]?)] = []
            for header in headers {
                guard let equals = header.firstIndex(of: "=") else { throw UsageFailure(message: "--header '\(header)' must be NAME=VALUE") }
                parsedHeaders.append((String(header[..<equals]), Array(header[header.index(after: equals)...].utf8)))
            }
            let value: [UInt8]?
            switch event {
            case nil: value = nil
            case "-": value = Array(FileHandle.standardInput.readDataToEndOfFile())
            case let path?:
                guard let data = FileManager.default.contents(atPath: path) else { throw UsageFailure(message: "cannot read event file \(path)") }
                value = Array(data)
            }
            let incoming = IncomingEvent(topic: topic, key: key.map { Array($0.utf8) }, headers: parsedHeaders, value: value)
            let (explanations, invalid) = settings.rules.explain(incoming)
            let total = settings.rules.evaluate(incoming)
            if json {
                printJSON(explanations, invalid: invalid, total: total)
            } else {
                printHuman(explanations, invalid: invalid, total: total, rulesFile: settings.rulesFile)
            }
        }

        func printHuman(_ explanations: [RuleExplanation], invalid: InvalidReason?, total: RuleMatch, rulesFile: String) {
            if let invalid { print("value: not usable JSON (\(invalid.rawValue)); rules with json predicates or sync_from cannot match\n") }
            for rule in explanations {
                print("\(rule.matched ? "MATCH   " : "no match") \(rule.rule)  (\(rulesFile):\(rule.line))")
                for check in rule.checks {
                    print("  \(check.passed ? "✔" : "✘") \(check.predicate)   [event: \(check.found)]")
                }
                if rule.matched {
                    if !rule.integrations.isEmpty { print("  → target \(rule.target): \(rule.integrations.joined(separator: ", "))") }
                    for problem in rule.problems { print("  ✘ \(problem.detail): dead-lettered (\(problem.reason.rawValue))") }
                }
            }
            print("")
            if total.demands.isEmpty {
                print(
                    total.problems.isEmpty
                        ? "Triggers nothing: no rule matched; the event would be committed." : "Triggers nothing; the event would be dead-lettered.")
            } else {
                let grouped = Dictionary(grouping: total.demands.keys, by: \.target)
                for (target, keys) in grouped.sorted(by: { $0.key < $1.key }) {
                    print("Would trigger on \(target): \(keys.map(\.integrationID).sorted().joined(separator: ", "))")
                }
            }
        }

        func printJSON(_ explanations: [RuleExplanation], invalid: InvalidReason?, total: RuleMatch) {
            let rules: [[String: Any]] = explanations.map { rule in
                [
                    "rule": rule.rule, "line": rule.line, "matched": rule.matched, "target": rule.target,
                    "integrations": rule.integrations,
                    "checks": rule.checks.map { ["predicate": $0.predicate, "passed": $0.passed, "found": $0.found] },
                    "problems": rule.problems.map { ["reason": $0.reason.rawValue, "detail": $0.detail] },
                ]
            }
            let triggers = total.demands.keys.sorted().map { ["target": $0.target, "integration_id": $0.integrationID] }
            var object: [String: Any] = ["rules": rules, "triggers": triggers]
            if let invalid { object["invalid_value"] = invalid.rawValue }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
            print(String(decoding: data, as: UTF8.self))
        }
    }
}
