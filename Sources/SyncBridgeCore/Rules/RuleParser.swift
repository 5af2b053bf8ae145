import Yams

/// Turns the `rules` YAML list into a compiled `RuleSet`, reporting problems with their line.
enum RuleParser {
    static let ruleKeys = ["name", "when", "sync", "sync_from", "allow", "allow_any", "target", "coalesce"]
    static let whenKeys = ["topic", "key", "headers", "json"]

    static func parse(_ node: Node, reader: inout ConfigNodeWalker, targets: [String], defaultCoalesce: CoalescePolicy) -> RuleSet {
        guard case .sequence(let sequence) = node else {
            reader.report(node, "rules must be a list of rules, each with name, when and sync")
            return RuleSet(rules: [])
        }
        var rules: [Rule] = []
        var seen: Set<String> = []
        for item in sequence {
            guard let rule = parseRule(item, reader: &reader, targets: targets, defaultCoalesce: defaultCoalesce) else { continue }
            if !seen.insert(rule.name).inserted {
                reader.report(item, "duplicate rule name '\(rule.name)'; rule names must be unique")
                continue
            }
            rules.append(rule)
        }
        return RuleSet(rules: rules)
    }

    private static func parseRule(_ node: Node, reader: inout ConfigNodeWalker, targets: [String], defaultCoalesce: CoalescePolicy) -> Rule? {
        guard let entries = reader.mapping(node, named: "a rule", allowed: ruleKeys) else { return nil }
        guard let nameNode = entries["name"], let name = reader.string(nameNode, named: "rule name"), !name.isEmpty else {
            if entries["name"] == nil { reader.report(node, "every rule needs a name") }
            return nil
        }
        let issuesBefore = reader.issues.count
        var rule = Rule(
            name: name, line: reader.line(node), topic: nil, key: nil, headers: [], json: [],
            integrations: .fixed([]), target: "", coalesce: defaultCoalesce)

        if let when = entries["when"] {
            parseWhen(when, into: &rule, reader: &reader)
        } else {
            reader.report(node, "rule '\(name)' has no when; add at least a topic")
        }

        switch (entries["sync"], entries["sync_from"]) {
        case (let syncNode?, nil):
            var ids: [String] = []
            for text in reader.strings(syncNode, named: "rule '\(name)' sync") ?? [] {
                if let id = canonicalIntegrationID(text) {
                    ids.append(id)
                } else {
                    reader.report(
                        syncNode, "rule '\(name)': '\(text)' is not a Braze integration ID (a UUID like 3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70)")
                }
            }
            if ids.isEmpty, reader.issues.count == issuesBefore { reader.report(syncNode, "rule '\(name)' has an empty sync list") }
            if entries["allow"] != nil || entries["allow_any"] != nil {
                reader.report(entries["allow"] ?? entries["allow_any"], "rule '\(name)': allow and allow_any go with sync_from, not sync")
            }
            rule.integrations = .fixed(ids)
        case (nil, let fromNode?):
            guard let text = reader.string(fromNode, named: "rule '\(name)' sync_from") else { break }
            let pointer: JSONPointer
            do { pointer = try JSONPointer(text) } catch {
                reader.report(fromNode, "rule '\(name)' sync_from: \(error)")
                break
            }
            switch (entries["allow"], entries["allow_any"]) {
            case (let allowNode?, nil):
                var allowed: Set<String> = []
                for text in reader.strings(allowNode, named: "rule '\(name)' allow") ?? [] {
                    if let id = canonicalIntegrationID(text) {
                        allowed.insert(id)
                    } else {
                        reader.report(allowNode, "rule '\(name)' allow: '\(text)' is not a Braze integration ID (a UUID)")
                    }
                }
                rule.integrations = .fromEvent(pointer, allowed: allowed)
            case (nil, let anyNode?):
                if reader.bool(anyNode, named: "allow_any") == true {
                    rule.integrations = .fromEvent(pointer, allowed: nil)
                } else {
                    reader.report(anyNode, "rule '\(name)': allow_any must be true; to restrict IDs use allow: [...]")
                }
            case (_?, _?):
                reader.report(node, "rule '\(name)': give allow or allow_any, not both")
            case (nil, nil):
                reader.report(
                    fromNode,
                    "rule '\(name)': sync_from needs allow: [IDs] or allow_any: true, so an event cannot trigger an integration you did not intend")
            }
        case (_?, _?):
            reader.report(node, "rule '\(name)': give sync or sync_from, not both")
        case (nil, nil):
            reader.report(node, "rule '\(name)' needs sync: [integration IDs] or sync_from: /json/pointer")
        }

        if let targetNode = entries["target"], let target = reader.string(targetNode, named: "rule '\(name)' target") {
            if targets.contains(target) {
                rule.target = target
            } else {
                let hint =
                    closestMatch(to: target, in: targets).map { "; did you mean '\($0)'?" } ?? "; targets are: \(targets.joined(separator: ", "))"
                reader.report(targetNode, "rule '\(name)': unknown target '\(target)'\(hint)")
            }
        } else if targets.count == 1 {
            rule.target = targets[0]
        } else if targets.count > 1 {
            reader.report(node, "rule '\(name)' needs a target: there are several (\(targets.joined(separator: ", ")))")
        }

        if let coalesceNode = entries["coalesce"], let policy = ConfigLoader.readCoalesce(coalesceNode, &reader, base: defaultCoalesce) {
            rule.coalesce = policy
        }
        return reader.issues.count == issuesBefore ? rule : nil
    }

    private static func parseWhen(_ node: Node, into rule: inout Rule, reader: inout ConfigNodeWalker) {
        guard let entries = reader.mapping(node, named: "rule '\(rule.name)' when", allowed: whenKeys) else { return }
        if entries.isEmpty {
            reader.report(node, "rule '\(rule.name)' has an empty when, which would match every event; add at least a topic")
            return
        }
        if let topicNode = entries["topic"], let text = reader.string(topicNode, named: "when.topic") {
            rule.topic = matcher(text, at: topicNode, what: "when.topic", reader: &reader)
        }
        if let keyNode = entries["key"], let text = reader.string(keyNode, named: "when.key") {
            rule.key = .glob(Glob(text))
        }
        if let headersNode = entries["headers"], let headers = reader.mapping(headersNode, named: "when.headers", allowed: []) {
            for (name, valueNode) in headers.sorted(by: { $0.key < $1.key }) {
                let patterns = (reader.strings(valueNode, named: "when.headers.\(name)") ?? []).map { TextMatcher.glob(Glob($0)) }
                rule.headers.append((name, patterns))
            }
        }
        if let jsonNode = entries["json"], case .mapping(let mapping) = jsonNode {
            for (pointerNode, predicateNode) in mapping {
                guard let text = reader.string(pointerNode, named: "when.json pointer") else { continue }
                let pointer: JSONPointer
                do { pointer = try JSONPointer(text) } catch {
                    reader.report(pointerNode, "rule '\(rule.name)' when.json: \(error)")
                    continue
                }
                if let predicate = jsonPredicate(predicateNode, reader: &reader, rule: rule.name) {
                    rule.json.append((pointer, predicate))
                }
            }
        } else if let jsonNode = entries["json"] {
            reader.report(jsonNode, "when.json must map JSON pointers to predicates, like /table: ORDERS")
        }
    }

    private static func matcher(_ text: String, at node: Node, what: String, reader: inout ConfigNodeWalker) -> TextMatcher? {
        do { return try TextMatcher(text) } catch {
            reader.report(node, "\(what) '\(text)' is not a valid regex in RE2 syntax (\(CompiledRegex.syntaxReference)): \(error)")
            return nil
        }
    }

    /// A YAML scalar as the JSON value it denotes: plain `true`, `3`, `null` are typed (the
    /// YAML 1.2 core schema spellings), quoted text stays a string.
    static func jsonScalar(_ node: Node, reader: inout ConfigNodeWalker) -> JSONValue? {
        guard case .scalar(let scalar) = node else { return nil }
        if scalar.style == .plain {
            switch scalar.string {
            case "null", "Null", "NULL", "~", "": return .null
            case "true", "True", "TRUE": return .bool(true)
            case "false", "False", "FALSE": return .bool(false)
            default:
                let text = scalar.string.hasPrefix("+") ? String(scalar.string.dropFirst()) : scalar.string
                if let number = Double(text), number.isFinite, text.first.map({ $0.isNumber || $0 == "-" || $0 == "." }) == true {
                    return .number(number)
                }
            }
        }
        return reader.expand(scalar.string, at: node, named: "a JSON predicate").map(JSONValue.string)
    }

    private static func jsonPredicate(_ node: Node, reader: inout ConfigNodeWalker, rule: String) -> JSONPredicate? {
        switch node {
        case .scalar:
            return jsonScalar(node, reader: &reader).map(JSONPredicate.equals)
        case .sequence(let sequence):
            var options: [JSONValue] = []
            for element in sequence {
                guard let value = jsonScalar(element, reader: &reader) else {
                    reader.report(element, "rule '\(rule)': a list predicate holds scalars (strings, numbers, booleans, null)")
                    return nil
                }
                options.append(value)
            }
            return .anyOf(options)
        case .mapping:
            guard let entries = reader.mapping(node, named: "a JSON predicate", allowed: JSONPredicate.Operator.names) else { return nil }
            guard !entries.isEmpty else {
                reader.report(node, "rule '\(rule)': empty predicate; use one of \(JSONPredicate.Operator.names.joined(separator: ", "))")
                return nil
            }
            var operators: [JSONPredicate.Operator] = []
            for (name, valueNode) in entries.sorted(by: { $0.key < $1.key }) {
                switch name {
                case "exists":
                    if let flag = reader.bool(valueNode, named: "exists") { operators.append(.exists(flag)) }
                case "glob":
                    if let text = reader.string(valueNode, named: "glob") { operators.append(.glob(Glob(text))) }
                case "regex":
                    if let text = reader.string(valueNode, named: "regex") {
                        do { operators.append(.regex(try CompiledRegex(text))) } catch {
                            reader.report(
                                valueNode, "rule '\(rule)': regex '\(text)' is not valid RE2 syntax (\(CompiledRegex.syntaxReference)): \(error)")
                        }
                    }
                default:
                    guard case .number(let bound)? = jsonScalar(valueNode, reader: &reader) else {
                        reader.report(valueNode, "rule '\(rule)': \(name) needs a number")
                        continue
                    }
                    switch name {
                    case "gt": operators.append(.greaterThan(bound))
                    case "gte": operators.append(.greaterOrEqual(bound))
                    case "lt": operators.append(.lessThan(bound))
                    default: operators.append(.lessOrEqual(bound))
                    }
                }
            }
            return .all(operators)
        default:
            reader.report(node, "rule '\(rule)': unsupported predicate")
            return nil
        }
    }
}
