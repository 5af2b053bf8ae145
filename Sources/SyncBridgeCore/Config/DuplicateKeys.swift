import Yams

/// Finds every repeated key in a YAML document, each at its own line.
///
/// Yams refuses a mapping with a repeated key, naming only the first occurrence of the first
/// such key and nothing else. So each refusal renames that occurrence with a marker no config
/// can contain, and the text is composed again: every round uncovers the next repetition.
/// Once the text composes, the markers come off, the first occurrence of each key is kept
/// and every later one is reported at its own line.
enum DuplicateKeys {
    /// Beyond this many renames the text is not a config anyone wrote by hand; stop there.
    static let maxRenames = 200
    private static let marker: Unicode.Scalar = "\u{E000}"

    /// The document's root and one issue per repeated key; throws for YAML it cannot read.
    static func compose(_ text: String, file: String) throws(YamlError) -> (root: Node?, issues: [ConfigIssue]) {
        var text = text
        var renames = 0
        while true {
            do {
                guard let root = try Yams.compose(yaml: text) else { return (nil, []) }
                guard renames > 0 else { return (root, []) }
                var issues: [ConfigIssue] = []
                return (restoringKeys(root, file: file, issues: &issues), issues)
            } catch let error as YamlError {
                guard case .duplicatedKeysInMapping(_, let context) = error, renames < maxRenames,
                    let renamed = renaming(keyAt: context.mark, in: text, as: renames)
                else { throw error }
                text = renamed
                renames += 1
            } catch {
                // Yams throws only YamlError.
                throw YamlError.representer(problem: "\(error)")
            }
        }
    }

    /// `text` with a marker and `number` inserted at the start of the key scalar at `mark`,
    /// or nil when no plain or quoted scalar starts there (an alias or a collection as key).
    static func renaming(keyAt mark: Mark, in text: String, as number: Int) -> String? {
        var scalars = Array(text.unicodeScalars)
        guard var index = offset(of: mark, in: scalars), index < scalars.count else { return nil }
        // A key's mark is at its anchor or tag, if it has one (`&a key:`, `!!str key:`): skip past them.
        while index < scalars.count, scalars[index] == "&" || scalars[index] == "!" {
            while index < scalars.count, scalars[index] != " ", scalars[index] != "\t" { index += 1 }
            while index < scalars.count, scalars[index] == " " || scalars[index] == "\t" { index += 1 }
        }
        guard index < scalars.count else { return nil }
        switch scalars[index] {
        case "\"", "'": index += 1
        case "&", "*", "!", "?", "[", "{", "|", ">", "%", "@", "`", "-", ",", "]", "}", "#", ":", " ", "\t", "\n", "\r": return nil
        default: break
        }
        scalars.insert(contentsOf: [marker] + "\(number)".unicodeScalars + [marker], at: index)
        var renamed = ""
        renamed.unicodeScalars.append(contentsOf: scalars)
        return renamed
    }

    /// The index of the scalar at `mark` (1-based line and column, counted as libyaml does:
    /// columns in Unicode scalars, CR LF as one break, NEL, LS and PS as breaks too).
    static func offset(of mark: Mark, in scalars: [Unicode.Scalar]) -> Int? {
        var line = 1, column = 1, index = 0
        if scalars.first == "\u{FEFF}" { index = 1 }
        while index < scalars.count {
            if line == mark.line, column == mark.column { return index }
            if line > mark.line { return nil }
            switch scalars[index] {
            case "\r":
                if index + 1 < scalars.count, scalars[index + 1] == "\n" { index += 1 }
                line += 1
                column = 1
            case "\n", "\u{85}", "\u{2028}", "\u{2029}":
                line += 1
                column = 1
            default:
                column += 1
            }
            index += 1
        }
        return nil
    }

    /// `node` with markers removed from its keys and every repeated key but the first dropped and reported.
    private static func restoringKeys(_ node: Node, file: String, issues: inout [ConfigIssue]) -> Node {
        switch node {
        case .mapping(let mapping):
            var pairs: [(Node, Node)] = []
            var firstLines: [Node: Int] = [:]
            for (key, value) in mapping {
                let restored = restoringMarker(key)
                let line = restored.mark?.line ?? 1
                if let firstLine = firstLines[restored] {
                    let name = restored.string.map { "'\($0)'" } ?? "a key"
                    issues.append(
                        ConfigIssue(file: file, line: line, message: "duplicate key \(name), first given on line \(firstLine); keep one of them"))
                    continue
                }
                firstLines[restored] = line
                pairs.append((restored, restoringKeys(value, file: file, issues: &issues)))
            }
            return .mapping(Node.Mapping(pairs, mapping.tag, mapping.style, mapping.mark))
        case .sequence(let sequence):
            return .sequence(
                Node.Sequence(sequence.map { restoringKeys($0, file: file, issues: &issues) }, sequence.tag, sequence.style, sequence.mark))
        default:
            return node
        }
    }

    private static func restoringMarker(_ key: Node) -> Node {
        guard case .scalar(let scalar) = key, scalar.string.unicodeScalars.first == marker else { return key }
        let rest = scalar.string.unicodeScalars.dropFirst()
        guard let end = rest.firstIndex(of: marker) else { return key }
        var original = ""
        original.unicodeScalars.append(contentsOf: rest[rest.index(after: end)...])
        return .scalar(Node.Scalar(original, scalar.tag, scalar.style, scalar.mark))
    }
}
