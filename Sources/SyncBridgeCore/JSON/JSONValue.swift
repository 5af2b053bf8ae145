/// A parsed JSON document.
public enum JSONValue: Hashable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Follows an RFC 6901 pointer; nil when any step is missing.
    public func resolve(_ pointer: JSONPointer) -> JSONValue? {
        resolve(tokens: pointer.tokens[...])
    }

    func resolve(tokens: ArraySlice<String>) -> JSONValue? {
        var current = self
        for token in tokens {
            switch current {
            case .object(let members):
                guard let next = members[token] else { return nil }
                current = next
            case .array(let elements):
                guard let index = JSONPointer.arrayIndex(token), index < elements.count else { return nil }
                current = elements[index]
            default:
                return nil
            }
        }
        return current
    }

    /// Compact text, for `rules test` and error messages.
    public var compactText: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let value):
            if value.rounded() == value, abs(value) < 1e15 { return String(Int64(value)) }
            return String(value)
        case .string(let value): return "\"" + value + "\""
        case .array(let elements): return "[" + elements.map(\.compactText).joined(separator: ",") + "]"
        case .object(let members):
            return "{" + members.keys.sorted().map { "\"\($0)\":\(members[$0]!.compactText)" }.joined(separator: ",") + "}"
        }
    }
}

/// An RFC 6901 JSON pointer such as `/payload/after/table` (`~0` is `~`, `~1` is `/`).
public struct JSONPointer: Hashable, Sendable, CustomStringConvertible {
    public let tokens: [String]
    public let description: String

    public init(_ text: String) throws(JSONPointerError) {
        guard !text.isEmpty else {
            description = text
            tokens = []
            return
        }
        guard text.hasPrefix("/") else { throw .missingLeadingSlash(text) }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var iterator = raw.makeIterator()
            while let character = iterator.next() {
                guard character == "~" else {
                    token.append(character)
                    continue
                }
                switch iterator.next() {
                case "0": token.append("~")
                case "1": token.append("/")
                default: throw .badEscape(text)
                }
            }
            tokens.append(token)
        }
        self.tokens = tokens
        self.description = text
    }

    static func arrayIndex(_ token: String) -> Int? {
        guard let first = token.utf8.first, first >= UInt8(ascii: "0"), first <= UInt8(ascii: "9") else { return nil }
        if token.utf8.count > 1, first == UInt8(ascii: "0") { return nil }
        return Int(token)
    }
}

public enum JSONPointerError: Error, Equatable, CustomStringConvertible {
    case missingLeadingSlash(String)
    case badEscape(String)

    public var description: String {
        switch self {
        case .missingLeadingSlash(let text):
            return "JSON pointer '\(text)' must start with '/' (RFC 6901), for example '/table'"
        case .badEscape(let text):
            return "JSON pointer '\(text)' has a '~' not followed by 0 or 1; write '~0' for '~' and '~1' for '/'"
        }
    }
}
