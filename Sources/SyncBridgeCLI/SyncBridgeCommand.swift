import ArgumentParser
import Foundation
import SyncBridgeCore

/// The `syncbridge` command line (SPEC §2): the service, the demo, rule tools, manual
/// calls, and the development broker and Braze simulator.
@main
struct SyncBridgeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "syncbridge",
        abstract: "Triggers Braze Cloud Data Ingestion syncs from Kafka \"data updated\" events.",
        subcommands: [Run.self, Demo.self, Inspect.self, Rules.self, Trigger.self, Status.self, Broker.self, BrazeSim.self]
    )

    /// SPEC §2 exit codes: 2 for usage and config errors (ArgumentParser would use 64), 1 for runtime failures.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let errors as ConfigErrors {
            FileHandle.standardError.write(Data((errors.description + "\n").utf8))
            Foundation.exit(2)
        } catch let failure as UsageFailure {
            FileHandle.standardError.write(Data(("syncbridge: \(failure.message)\n").utf8))
            Foundation.exit(2)
        } catch let failure as RuntimeFailure {
            FileHandle.standardError.write(Data(("syncbridge: \(failure.message)\n").utf8))
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            // `--help` and `--version` end here with exit 0.
            if code == .success { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(code == .validationFailure ? 2 : 1)
        }
    }
}

/// A usage or configuration problem: exit 2.
struct UsageFailure: Error {
    var message: String
}

/// A problem at run time (network, broker, Braze): exit 1.
struct RuntimeFailure: Error {
    var message: String
}

func loadConfig(_ path: String) throws -> ServiceConfig {
    try ConfigLoader.load(path: path)
}
