import FuzzSupport
import SyncBridgeCore

/// Differential target for the JSON parser: the lazy extractor must agree with the full parser on
/// every input, rejecting exactly the same documents with the same error and offset, and
/// otherwise returning, at every pointer, the value the full parse has there (G8).
///
/// Each input is checked with two pointer sets: a fixed one of common and awkward pointers
/// (canonically equivalent keys, escapes, array indexes), and one drawn from the document
/// itself when it parses, so that nested and overlapping pointers reach real subtrees.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    let full = Result { () throws(JSONError) in try JSONParser.parse(bytes) }
    checkAgreement(bytes, full, pointers: fixedPointers)
    if case .success(let document) = full {
        var paths: [String] = []
        collectPaths(document, prefix: "", into: &paths)
        // A selection that depends on the input, so that some subtrees are skipped rather than extracted.
        let seed = bytes.reduce(UInt64(size)) { $0 &* 31 &+ UInt64($1) }
        let chosen = paths.enumerated().filter { seed >> UInt64($0.offset % 64) & 1 == 1 }.map(\.element)
        let pointers = (chosen + paths.suffix(2)).compactMap { try? JSONPointer($0) }
        checkAgreement(bytes, full, pointers: pointers)
    }
    return 0
}

let fixedPointers: [JSONPointer] = [
    "", "/a", "/a/b", "/a/c", "/table", "/data", "/data/table", "/payload/source/table", "/payload/op",
    "/payload/after/id", "/integration_id", "/rows", "/0", "/0/0", "/1", "/01", "/-", "/99999999999999999999",
    "/K", "/\u{212A}", "/é", "/e\u{301}", "/a~1b/c~0d/1/x", "/", "//", "/\"",
].map { try! JSONPointer($0) }

func checkAgreement(_ bytes: [UInt8], _ full: Result<JSONValue, JSONError>, pointers: [JSONPointer]) {
    let set = JSONPointerSet(pointers)
    let lazy = Result { () throws(JSONError) in try JSONParser.extract(set, from: bytes) }
    switch (full, lazy) {
    case (.failure(let expected), .failure(let found)):
        FuzzInput.require(expected == found, "parse failed with \(expected), extract with \(found) on \(FuzzInput.show(bytes))")
    case (.success(let document), .success(let values)):
        FuzzInput.require(values.count == set.pointers.count, "extract returned \(values.count) values for \(set.pointers.count) pointers")
        for pointer in pointers {
            let expected = document.resolve(pointer)
            let found = set.slot(of: pointer).map { values[$0] } ?? nil
            FuzzInput.require(
                expected == found,
                "at \(pointer): parse has \(String(describing: expected)), extract \(String(describing: found)) on \(FuzzInput.show(bytes))")
        }
    case (.success, .failure(let error)):
        FuzzInput.require(false, "parse accepted, extract failed with \(error) on \(FuzzInput.show(bytes))")
    case (.failure(let error), .success):
        FuzzInput.require(false, "parse failed with \(error), extract accepted \(FuzzInput.show(bytes))")
    }
}

/// Every path in the document, as RFC 6901 pointer text, plus one missing child per container.
func collectPaths(_ value: JSONValue, prefix: String, into paths: inout [String]) {
    guard paths.count < 256 else { return }
    paths.append(prefix)
    switch value {
    case .object(let members):
        paths.append(prefix + "/missing")
        for key in members.keys.sorted() {
            var token = ""
            for character in key {
                switch character {
                case "~": token += "~0"
                case "/": token += "~1"
                default: token.append(character)
                }
            }
            collectPaths(members[key]!, prefix: prefix + "/" + token, into: &paths)
        }
    case .array(let elements):
        paths.append(prefix + "/\(elements.count)")
        for (index, element) in elements.enumerated() { collectPaths(element, prefix: prefix + "/\(index)", into: &paths) }
    default:
        paths.append(prefix + "/0")
    }
}
