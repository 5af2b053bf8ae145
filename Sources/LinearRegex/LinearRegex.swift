import CRE2

/// A regular expression matched in time linear in the length of the subject, whatever the
/// pattern: the RE2 engine, which has no backtracking, so `^(a+)+$` cannot stall on hostile
/// input. The price is RE2's syntax (https://github.com/google/re2/wiki/Syntax): no
/// backreferences and no lookaround, which compiling refuses with a `LinearRegex.CompileError`.
/// Immutable after compiling, so one instance may be matched from any number of threads.
public final class LinearRegex: @unchecked Sendable, CustomStringConvertible {
    /// Where RE2's syntax is documented; error messages point to it.
    public static let syntaxReference = "https://github.com/google/re2/wiki/Syntax"

    /// Memory for one pattern's compiled program and match caches (RE2's default, stated because
    /// many rules each hold one). A pattern whose program alone would exceed about two thirds of
    /// it is refused when compiled; a match whose cache fills it falls back to RE2's slower, still
    /// linear, NFA.
    public static let maxMemoryPerPattern: Int64 = 8 << 20

    /// A pattern RE2 cannot compile (bad syntax, or too large); `reason` is RE2's wording,
    /// plus a hint for features that exist in other engines but not in RE2.
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        public let pattern: String
        public let reason: String

        public var description: String { reason }
    }

    public let pattern: String
    // Non-nil and valid from init to deinit; RE2 objects are safe for concurrent const use.
    private let compiled: OpaquePointer

    public init(_ pattern: String) throws(CompileError) {
        self.pattern = pattern
        let maybeCompiled = Self.withBytes(of: pattern) { start, count in
            cre2_compile(start, count, Self.maxMemoryPerPattern)
        }
        if let message = cre2_error(maybeCompiled) {
            let reason = Self.explain(String(cString: message))
            cre2_free(maybeCompiled)
            throw CompileError(pattern: pattern, reason: reason)
        }
        compiled = maybeCompiled!  // a NULL result has an error, so it was thrown above
    }

    deinit { cre2_free(compiled) }

    /// Whether the pattern matches anywhere in `text`; `^` and `$` anchor it.
    public func matches(_ text: String) -> Bool {
        Self.withBytes(of: text) { start, count in cre2_search(compiled, start, count) } == 1
    }

    public var description: String { pattern }

    /// Calls `body` with `text`'s UTF-8 bytes, without copying when the string is contiguous.
    private static func withBytes<Result>(
        of text: String, _ body: (UnsafePointer<CChar>?, Int) -> Result
    ) -> Result {
        if let result = text.utf8.withContiguousStorageIfAvailable({ bytes in
            bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress, $0.count) }
        }) {
            return result
        }
        return Array(text.utf8).withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { body($0.baseAddress, $0.count) }
        }
    }

    /// RE2's message, plus what to do instead when the pattern uses a feature RE2 leaves out
    /// (RE2's wording names only the offending characters).
    private static func explain(_ message: String) -> String {
        let hints: [(operatorPrefix: String, hint: String)] = [
            ("invalid escape sequence: \\k", "backreferences are not supported"),
            ("invalid escape sequence: \\g", "backreferences are not supported"),
            ("invalid perl operator: (?=", "lookahead is not supported"),
            ("invalid perl operator: (?!", "lookahead is not supported"),
            ("invalid perl operator: (?<", "lookbehind is not supported; write a named group as (?P<name>...)"),
            ("invalid perl operator: (?>", "atomic groups are not supported, nor needed: RE2 never backtracks"),
            ("bad repetition operator: *+", "possessive quantifiers are not supported, nor needed: RE2 never backtracks"),
            ("bad repetition operator: ++", "possessive quantifiers are not supported, nor needed: RE2 never backtracks"),
            ("bad repetition operator: ?+", "possessive quantifiers are not supported, nor needed: RE2 never backtracks"),
            ("pattern too large", "it would need more than \(maxMemoryPerPattern >> 20) MiB; use smaller repetition counts"),
        ]
        if let known = hints.first(where: { message.hasPrefix($0.operatorPrefix) }) {
            return "\(message) (\(known.hint))"
        }
        if message.hasPrefix("invalid escape sequence: \\"), let digit = message.last, digit.isASCII, digit.isNumber {
            return "\(message) (backreferences are not supported)"
        }
        return message
    }
}
