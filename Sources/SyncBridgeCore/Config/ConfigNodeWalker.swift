import Foundation
import Yams

/// Walks a Yams node tree, expanding `${VAR}` and collecting `file:line` issues.
struct ConfigNodeWalker {
    let file: String
    let environment: [String: String]
    var issues: [ConfigIssue] = []

    init(file: String, environment: [String: String]) {
        self.file = file
        self.environment = environment
    }

    /// The document's root, and one issue per repeated key (which does not stop the rest of
    /// the checks); throws for text that is not YAML at all.
    static func compose(_ text: String, file: String) throws(ConfigErrors) -> (root: Node?, duplicateKeys: [ConfigIssue]) {
        do throws(YamlError) {
            let (root, issues) = try DuplicateKeys.compose(text, file: file)
            return (root, issues)
        } catch {
            throw ConfigErrors([ConfigIssue(file: file, line: Self.line(of: error, in: text), message: "not valid YAML: \(Self.summary(of: error))")])
        }
    }

    private static func line(of error: YamlError, in text: String) -> Int {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        case .duplicatedKeysInMapping(_, let context): return context.mark.line
        case .reader(_, let offset?, _, _):
            return 1 + text.unicodeScalars.prefix(max(0, offset)).reduce(0) { $0 + ($1 == "\n" ? 1 : 0) }
        default: return 1
        }
    }

    /// What went wrong, without the copy of the whole file that Yams's own description carries.
    private static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
            return [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")); keep one of each"
        case .reader(let problem, _, _, _):
            return problem
        default: return "\(error)"
        }
    }

    func line(_ node: Node?) -> Int { node?.mark?.line ?? 1 }

    mutating func report(_ node: Node?, _ message: String) {
        issues.append(ConfigIssue(file: file, line: line(node), message: message))
    }

    /// The mapping's entries, reporting unknown and duplicate keys.
    mutating func mapping(_ node: Node, named context: String, allowed: [String]) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            report(node, "\(context) must be a mapping of keys to values")
            return nil
        }
        var entries: [String: Node] = [:]
        for (keyNode, value) in mapping {
            guard let key = keyNode.string else {
                report(keyNode, "\(context) has a key that is not a string")
                continue
            }
            if !allowed.isEmpty, !allowed.contains(key) {
                let hint =
                    closestMatch(to: key, in: allowed).map { "; did you mean '\($0)'?" } ?? "; expected one of: \(allowed.joined(separator: ", "))"
                report(keyNode, "unknown key '\(key)' in \(context)\(hint)")
                continue
            }
            if entries[key] != nil {
                report(keyNode, "duplicate key '\(key)' in \(context)")
                continue
            }
            entries[key] = value
        }
        return entries
    }

    /// A string scalar with `${NAME}` and `${NAME:-default}` expanded.
    mutating func string(_ node: Node, named what: String) -> String? {
        guard case .scalar(let scalar) = node else {
            report(node, "\(what) must be a string")
            return nil
        }
        return expand(scalar.string, at: node, named: what)
    }

    mutating func expand(_ text: String, at node: Node, named what: String) -> String? {
        guard text.contains("${") else { return text }
        var output = ""
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            output += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                report(node, "\(what) has an unterminated '${' ; write ${NAME} or ${NAME:-default}")
                return nil
            }
            let body = rest[open.upperBound..<close]
            let (name, fallback): (Substring, Substring?) = {
                if let separator = body.range(of: ":-") { return (body[..<separator.lowerBound], body[separator.upperBound...]) }
                return (body, nil)
            }()
            if let value = environment[String(name)], !(value.isEmpty && fallback != nil) {
                output += value
            } else if let fallback {
                output += fallback
            } else {
                report(node, "\(what) uses environment variable \(name), which is not set; export it or write ${\(name):-default}")
                return nil
            }
            rest = rest[rest.index(after: close)...]
        }
        return output + rest
    }

    mutating func strings(_ node: Node, named what: String) -> [String]? {
        switch node {
        case .scalar: return string(node, named: what).map { [$0] }
        case .sequence(let sequence): return sequence.compactMap { string($0, named: what) }
        default:
            report(node, "\(what) must be a string or a list of strings")
            return nil
        }
    }

    mutating func duration(_ node: Node, named what: String) -> Duration? {
        guard let text = string(node, named: what) else { return nil }
        guard let value = Duration(configText: text) else {
            report(node, "\(what) '\(text)' is not a duration; write it like 250ms, 10s, 5m or 1h")
            return nil
        }
        guard value <= ConfigLimits.maxDuration else {
            report(node, "\(what) '\(text)' is too long; the maximum is \(ConfigLimits.maxDurationText)")
            return nil
        }
        return value
    }

    mutating func rateLimit(_ node: Node, named what: String) -> RateLimit? {
        guard let text = string(node, named: what) else { return nil }
        guard let value = RateLimit(configText: text) else {
            report(node, "\(what) '\(text)' is not a rate; write COUNT/WINDOW, like 20/1m")
            return nil
        }
        guard value.count <= ConfigLimits.maxRateCount else {
            report(node, "\(what) '\(text)' allows too many requests; the maximum COUNT is \(ConfigLimits.maxRateCount) per window")
            return nil
        }
        guard value.window <= ConfigLimits.maxDuration else {
            report(node, "\(what) '\(text)' has too long a window; the maximum is \(ConfigLimits.maxDurationText)")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Node, named what: String) -> Bool? {
        guard let text = string(node, named: what) else { return nil }
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default:
            report(node, "\(what) must be true or false, not '\(text)'")
            return nil
        }
    }
}
