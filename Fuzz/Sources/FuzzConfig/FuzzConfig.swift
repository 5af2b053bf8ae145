import FuzzSupport
import SyncBridgeCore

/// The config loader on arbitrary text: it may only answer with `ConfigErrors` (each a
/// `file:line: message`), never trap, stall or exhaust memory, whatever the YAML holds (G9).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // `rules_file` makes the loader read another file by name: the file system, not parsing, and a
    // device path would block the run.
    if text.contains("rules_file") { return -1 }
    do {
        let config = try ConfigLoader.load(text: text, file: "fuzz.yaml", environment: environment)
        _ = config.rules.rules.count
    } catch {
        FuzzInput.require(!error.issues.isEmpty, "ConfigErrors without an issue for \(FuzzInput.show(Array(text.utf8)))")
        for issue in error.issues {
            FuzzInput.require(issue.line >= 1, "issue at line \(issue.line): \(issue)")
        }
        _ = error.description
    }
    return 0
}

/// The variables the example configs name, so that `api_key_env` and `secret_env` can resolve.
let environment = ["BRAZE_API_KEY": "key", "K": "key", "HOOK_SECRET": "secret"]
