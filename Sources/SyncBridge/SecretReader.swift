import Foundation
import SyncBridgeCore

/// Reads a secret (a Braze API key, a webhook secret) from its environment variable or file.
/// Secrets never live in the config (G10); a trailing newline from `echo` or an editor is dropped.
public enum SecretReader {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameters:
    ///   - owner: the setting, for messages: "target braze", "http.ingress_hmac".
    ///   - contents: what belongs there, for messages: "the Braze REST API key".
    public static func load(_ source: SecretSource, owner: String, contents: String, environment: [String: String]) throws -> String {
        let text: String
        switch source {
        case .environment(let name):
            guard let value = environment[name] else {
                throw Missing(description: "\(owner): environment variable \(name) is not set; export \(contents) there")
            }
            text = value
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let value = String(data: data, encoding: .utf8) else {
                throw Missing(description: "\(owner): cannot read \(path); check the path and its permissions")
            }
            text = value
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw Missing(description: "\(owner): \(source) is empty; put \(contents) there") }
        return secret
    }

    /// A target's Braze REST API key.
    public static func apiKey(for target: TargetSettings, environment: [String: String]) throws -> String {
        try load(
            target.apiKeySource, owner: "target \(target.name)",
            contents: "the Braze REST API key (with the cdi.integration_sync and cdi.integration_job_status permissions)",
            environment: environment
        )
    }
}
