import LinearRegex

/// A `*`/`?` glob over Unicode scalars, matched without backtracking blow-up.
public struct Glob: Sendable, Hashable {
    public let pattern: String
    private let scalars: [Unicode.Scalar]

    public init(_ pattern: String) {
        self.pattern = pattern
        self.scalars = Array(pattern.unicodeScalars)
    }

    public static func isGlob(_ text: String) -> Bool { text.contains("*") || text.contains("?") }

    public func matches(_ text: String) -> Bool {
        let subject = Array(text.unicodeScalars)
        var p = 0, s = 0
        var star = -1, resume = 0
        while s < subject.count {
            if p < scalars.count, scalars[p] == "?" || scalars[p] == subject[s] {
                p += 1
                s += 1
            } else if p < scalars.count, scalars[p] == "*" {
                star = p
                resume = s
                p += 1
            } else if star >= 0 {
                p = star + 1
                resume += 1
                s = resume
            } else {
                return false
            }
        }
        while p < scalars.count, scalars[p] == "*" { p += 1 }
        return p == scalars.count
    }
}

/// A compiled regular expression in RE2 syntax, matched in linear time: patterns come from
/// config but run on untrusted event bytes, so a backtracking engine could be stalled by them.
/// Immutable and so safe to share.
public struct CompiledRegex: Sendable, CustomStringConvertible {
    /// Where the accepted syntax is documented, for error messages.
    public static let syntaxReference = LinearRegex.syntaxReference

    private let regex: LinearRegex

    public init(_ pattern: String) throws {
        regex = try LinearRegex(pattern)
    }

    public var description: String { regex.pattern }

    /// Whether the pattern matches anywhere in `text`; `^` and `$` anchor it.
    public func matches(_ text: String) -> Bool { regex.matches(text) }
}

/// How a topic, key or header value is matched: exact, glob (`*`, `?`) or `^regex`.
public enum TextMatcher: Sendable, CustomStringConvertible {
    case exact(String)
    case glob(Glob)
    case regex(CompiledRegex)

    public init(_ text: String) throws {
        if text.hasPrefix("^") {
            self = .regex(try CompiledRegex(text))
        } else if Glob.isGlob(text) {
            self = .glob(Glob(text))
        } else {
            self = .exact(text)
        }
    }

    public func matches(_ text: String) -> Bool {
        switch self {
        case .exact(let expected): return text == expected
        case .glob(let glob): return glob.matches(text)
        case .regex(let regex): return regex.matches(text)
        }
    }

    public var description: String {
        switch self {
        case .exact(let text): return text
        case .glob(let glob): return glob.pattern
        case .regex(let regex): return regex.description
        }
    }
}

/// A predicate on the value found at one JSON pointer.
public enum JSONPredicate: Sendable, CustomStringConvertible {
    case equals(JSONValue)
    case anyOf([JSONValue])
    case all([Operator])

    public enum Operator: Sendable, CustomStringConvertible {
        case exists(Bool)
        case glob(Glob)
        case regex(CompiledRegex)
        case greaterThan(Double), greaterOrEqual(Double), lessThan(Double), lessOrEqual(Double)

        public static let names = ["exists", "glob", "regex", "gt", "gte", "lt", "lte"]

        func holds(for value: JSONValue?) -> Bool {
            switch self {
            case .exists(let expected): return (value != nil) == expected
            case .glob(let glob):
                guard case .string(let text)? = value else { return false }
                return glob.matches(text)
            case .regex(let regex):
                guard case .string(let text)? = value else { return false }
                return regex.matches(text)
            case .greaterThan(let bound): return Self.number(value).map { $0 > bound } ?? false
            case .greaterOrEqual(let bound): return Self.number(value).map { $0 >= bound } ?? false
            case .lessThan(let bound): return Self.number(value).map { $0 < bound } ?? false
            case .lessOrEqual(let bound): return Self.number(value).map { $0 <= bound } ?? false
            }
        }

        private static func number(_ value: JSONValue?) -> Double? {
            if case .number(let number)? = value { return number }
            return nil
        }

        public var description: String {
            switch self {
            case .exists(let flag): return "exists: \(flag)"
            case .glob(let glob): return "glob: \(glob.pattern)"
            case .regex(let regex): return "regex: \(regex)"
            case .greaterThan(let bound): return "gt: \(JSONValue.number(bound).compactText)"
            case .greaterOrEqual(let bound): return "gte: \(JSONValue.number(bound).compactText)"
            case .lessThan(let bound): return "lt: \(JSONValue.number(bound).compactText)"
            case .lessOrEqual(let bound): return "lte: \(JSONValue.number(bound).compactText)"
            }
        }
    }

    public func holds(for value: JSONValue?) -> Bool {
        switch self {
        case .equals(let expected): return value == expected
        case .anyOf(let options): return value.map { options.contains($0) } ?? false
        case .all(let operators): return operators.allSatisfy { $0.holds(for: value) }
        }
    }

    public var description: String {
        switch self {
        case .equals(let expected): return "== \(expected.compactText)"
        case .anyOf(let options): return "any of [\(options.map(\.compactText).joined(separator: ", "))]"
        case .all(let operators): return "{" + operators.map(\.description).joined(separator: ", ") + "}"
        }
    }
}
