/// The topic named by the last path segment of `POST /v1/events/{topic}`.
///
/// The segment arrives as the client wrote it, so it is percent-decoded strictly (`%` must be
/// followed by two hex digits, and the result must be UTF-8) and the result must then be a legal
/// Kafka topic name. Without this, `a%2Fb` would be produced to a topic literally named `a%2Fb`.
public enum IngressTopic {
    /// Longest raw segment worth decoding: every legal name byte written as `%XX`.
    public static let maxSegmentLength = 3 * KafkaTopicName.maxLength

    /// The decoded, legal topic name, or why the segment names no legal topic (for a 400).
    public static func parse(pathSegment raw: Substring) -> Result<String, Problem> {
        let bytes = raw.utf8
        guard bytes.count <= maxSegmentLength else {
            return .failure(Problem(message: "the topic in the path is \(bytes.count) bytes long; " + rule))
        }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let byte = bytes[index]
            index = bytes.index(after: index)
            guard byte == UInt8(ascii: "%") else {
                decoded.append(byte)
                continue
            }
            guard index != bytes.endIndex, let high = hexValue(bytes[index]),
                bytes.index(after: index) != bytes.endIndex, let low = hexValue(bytes[bytes.index(after: index)])
            else {
                return .failure(Problem(message: "the topic in the path has a '%' not followed by two hex digits; " + rule))
            }
            decoded.append(high << 4 | low)
            index = bytes.index(index, offsetBy: 2)
        }
        guard let name = String(validating: decoded, as: UTF8.self) else {
            return .failure(Problem(message: "the topic in the path is not UTF-8 once percent-decoded; " + rule))
        }
        if let problem = KafkaTopicName.problem(with: name) {
            return .failure(Problem(message: problem + " (" + rule + ")"))
        }
        return .success(name)
    }

    /// Why a path segment names no legal topic; never echoes more than a short prefix of it.
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    static let rule = "a topic name is 1 to \(KafkaTopicName.maxLength) characters from [a-zA-Z0-9._-]"

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
