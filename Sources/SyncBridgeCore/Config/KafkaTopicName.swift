/// Kafka's rule for a legal topic name: 1 to 249 characters from `[a-zA-Z0-9._-]`,
/// and neither "." nor "..". Shared by config validation and the ingress, so a
/// name refused in one place is refused in the other with the same words.
public enum KafkaTopicName {
    public static let maxLength = 249

    /// Why `name` is not a legal Kafka topic name, or nil when it is. Kafka holds static
    /// member ids (`group.instance.id`) to the same rule; `kind` names what is checked.
    /// The text never echoes a long or non-printable name back in full.
    public static func problem(with name: String, kind: String = "topic name") -> String? {
        if name.isEmpty { return "\(kind) is empty" }
        if name == "." || name == ".." { return "\(kind) \"\(name)\" is reserved by Kafka" }
        let length = name.utf8.count
        if length > maxLength {
            return "\(kind) is \(length) bytes long; Kafka allows at most \(maxLength)"
        }
        if let bad = name.unicodeScalars.first(where: { !isLegal($0) }) {
            return "\(kind) \(quoted(name)) contains \(describe(bad)); Kafka allows only letters a-z A-Z, digits, '.', '_' and '-'"
        }
        return nil
    }

    private static func isLegal(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", ".", "_", "-": return true
        default: return false
        }
    }

    private static func describe(_ scalar: Unicode.Scalar) -> String {
        if scalar.isASCII, scalar.value >= 0x21, scalar.value < 0x7F { return "'\(Character(scalar))'" }
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex)"
    }

    /// The name with anything outside printable ASCII escaped, so it is safe to log,
    /// and cut short so a hostile name is never echoed in full.
    private static func quoted(_ name: String) -> String {
        var out = ""
        for scalar in name.unicodeScalars {
            if out.unicodeScalars.count >= 60 {
                out += "..."
                break
            }
            if scalar.isASCII, scalar.value >= 0x20, scalar.value < 0x7F, scalar != "\"", scalar != "\\" {
                out.unicodeScalars.append(scalar)
            } else {
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            }
        }
        return "\"\(out)\""
    }
}
