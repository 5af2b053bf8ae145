import BrazeCDI
import Foundation
import Logging
import SyncBridgeCore
import Synchronization

/// One Braze client per target. A paused target's key is read again before each probe,
/// so rotating an `api_key_file` (or fixing it) resumes the target without a restart.
final class TargetClients: Sendable {
    private struct Entry: Sendable {
        var settings: TargetSettings
        var key: String
        var client: CDIClient
    }

    private let entries: Mutex<[String: Entry]>
    private let environment: [String: String]
    private let logger: Logger

    init(targets: [TargetSettings], environment: [String: String], logger: Logger) throws {
        var entries: [String: Entry] = [:]
        for target in targets {
            let key = try SecretReader.apiKey(for: target, environment: environment)
            let client = try CDIClient(endpoint: target.endpoint, apiKey: key, timeout: target.timeout)
            if !client.usesTLS, !Self.isLoopback(target.endpoint) {
                logger.warning(
                    "target uses plain http to a non-loopback host; the API key travels unencrypted. Use https:// for a real Braze endpoint.",
                    metadata: ["target": "\(target.name)"]
                )
            }
            entries[target.name] = Entry(settings: target, key: key, client: client)
        }
        self.entries = Mutex(entries)
        self.environment = environment
        self.logger = logger
    }

    func client(for target: String) -> CDIClient? {
        entries.withLock { $0[target]?.client }
    }

    /// Re-reads the target's key; a changed key gets a new client.
    func refreshKey(for target: String) {
        guard let entry = entries.withLock({ $0[target] }) else { return }
        guard let key = try? SecretReader.apiKey(for: entry.settings, environment: environment), key != entry.key,
            let client = try? CDIClient(endpoint: entry.settings.endpoint, apiKey: key, timeout: entry.settings.timeout)
        else { return }
        entries.withLock { $0[target] = Entry(settings: entry.settings, key: key, client: client) }
        logger.notice("the API key changed; probing with the new key", metadata: ["target": "\(target)"])
    }

    static func isLoopback(_ endpoint: String) -> Bool {
        guard let host = URL(string: endpoint)?.host else { return false }
        return host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }
}
