import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import SyncBridge
import SyncBridgeCore

extension LogFormat: ExpressibleByArgument {}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service until SIGTERM or SIGINT.")

    @Option(help: "The config file (YAML).") var config: String
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    @Option(help: "Log lines as json or text; json unless standard error is a terminal.") var logFormat: LogFormat?

    func run() async throws {
        let settings = try loadConfig(config)
        let logger = (logFormat ?? .automatic).logger("syncbridge", level: Logger.Level(rawValue: logLevel) ?? .info)
        let service: SyncService
        do {
            service = try SyncService(config: settings, logger: logger, exitsOnShutdownOverrun: true)
        } catch {
            throw UsageFailure(message: "\(error)")
        }
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        if let listen = settings.http.listen {
            let http = try HTTPEndpoints.application(for: service, listen: listen) { port in
                logger.notice("http endpoints on port \(port): / /healthz /readyz /metrics /v1/integrations POST /v1/events/{topic}")
            }
            services.append(.init(service: http))
        }
        // Last in the group, so it is the first to shut down.
        services.append(.init(service: service))
        services.append(.init(service: RulesReloader(service: service, configPath: config, logger: logger)))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// Reloads the rules on SIGHUP or when `rules_file` changes; an invalid file keeps the old rules (G9).
struct RulesReloader: Service {
    let service: SyncService
    let configPath: String
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        let watched = service.config.rulesFile
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in signals { reload(reason: "SIGHUP") }
            }
            group.addTask {
                var lastModified = modificationDate(watched)
                while !Task.isCancelled {
                    try await Task.sleep(for: .seconds(2))
                    let modified = modificationDate(watched)
                    if modified != lastModified, watched != configPath {
                        lastModified = modified
                        reload(reason: "\(watched) changed")
                    }
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
    }

    func reload(reason: String) {
        service.reloadRules(from: configPath, reason: reason)
    }

    func modificationDate(_ path: String) -> Date? {
        (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
    }
}
