import ArgumentParser
import BrazeSimulator
import Foundation
import Kafka
import ServiceLifecycle
import UnixSignals
import SyncBridge
import SyncBridgeCore

struct Broker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the embedded development broker; prints bootstrap.servers on its first line.")

    @Option(help: "How many brokers.") var brokers: Int = 1
    @Option(name: .customLong("topic"), help: "A topic to create, NAME[:PARTITIONS]; repeatable.") var topics: [String] = []

    func run() async throws {
        guard (1...64).contains(brokers) else { throw UsageFailure(message: "--brokers must be from 1 to 64") }
        _ = LogFormat.text.logger("broker", level: .warning)
        let cluster = try EmbeddedKafkaCluster(brokers: brokers)
        for spec in topics {
            let parts = spec.split(separator: ":")
            guard let name = parts.first, parts.count <= 2, let partitions = parts.count == 2 ? Int32(parts[1]) : 3 else {
                throw UsageFailure(message: "--topic '\(spec)' must be NAME or NAME:PARTITIONS")
            }
            try cluster.createTopic(String(name), partitions: partitions)
        }
        printLine(cluster.bootstrapServers)
        FileHandle.standardError.write(
            Data(
                "embedded broker running; topics are created on first use (\(topics.isEmpty ? "none pre-created" : topics.joined(separator: ", "))). Ctrl-C to stop.\n"
                    .utf8))
        for await _ in await UnixSignalsSequence(trapping: .sigterm, .sigint) { break }
        cluster.shutdown()
    }
}

struct BrazeSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "braze-sim", abstract: "Run the Braze CDI simulator (for local development and tests).")

    @Option(help: "HOST:PORT to listen on.") var listen: String = "127.0.0.1:4010"
    @Option(name: .customLong("integrations"), help: "A file with one integration ID per line; repeatable.") var integrationFiles: [String] = []
    @Option(name: .customLong("integration"), help: "An integration ID; repeatable.") var integrations: [String] = []
    @Option(help: "How long each sync runs: a duration (5s) or a range (2s-8s).") var syncDuration: String = "5s"
    @Option(help: "Trigger rate limit, COUNT/WINDOW.") var rateLimit: String = "20/1m"
    @Option(help: "Status rate limit, COUNT/WINDOW.") var statusRateLimit: String = "100/1m"
    @Option(help: "The API key to accept (or SIM_API_KEY from the environment).") var apiKey: String?
    @Option(help: "Probability of a 500 per request, 0...1.") var errorRate: Double = 0
    @Option(help: "Added latency per request: a duration or a range.") var latency: String?
    @Option(help: "Probability of dropping a connection, 0...1.") var dropRate: Double = 0

    func run() async throws {
        guard let key = apiKey ?? ProcessInfo.processInfo.environment["SIM_API_KEY"] else {
            throw UsageFailure(message: "give --api-key KEY (or set SIM_API_KEY): the key clients must send as Bearer")
        }
        var ids = integrations
        for file in integrationFiles {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw UsageFailure(message: "cannot read --integrations file \(file)")
            }
            ids += String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter {
                !$0.isEmpty && !$0.hasPrefix("#")
            }
        }
        for id in ids where canonicalIntegrationID(id) == nil { throw UsageFailure(message: "integration '\(id)' is not a UUID") }
        guard let duration = parseRange(syncDuration) else {
            throw UsageFailure(message: "--sync-duration '\(syncDuration)' must be a duration like 5s or a range like 2s-8s")
        }
        guard let triggers = RateLimit(configText: rateLimit), let statuses = RateLimit(configText: statusRateLimit) else {
            throw UsageFailure(message: "rate limits must be COUNT/WINDOW, like 20/1m")
        }
        var config = SimulatorConfig(apiKey: key, integrations: Set(ids.map { $0.lowercased() }), syncDuration: duration)
        config.triggerRateLimit = triggers
        config.statusRateLimit = statuses
        config.serverErrorProbability = errorRate
        config.dropConnectionProbability = dropRate
        if let latency {
            guard let range = parseRange(latency) else { throw UsageFailure(message: "--latency '\(latency)' must be a duration or a range") }
            config.addedLatency = range
        }
        let (host, port) = try parseHostPort(listen)
        let simulator = BrazeSimulator(config: config, logger: LogFormat.text.logger("braze-sim", level: .warning))
        let count = ids.count
        let service = simulator.service(host: host, port: port) { port in
            printLine("braze-sim listening on http://\(host):\(port) with \(count) integrations; request log at /_sim/requests")
        }
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: service)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: LogFormat.text.logger("braze-sim", level: .warning)))
        try await group.run()
    }
}

func parseRange(_ text: String) -> ClosedRange<Duration>? {
    let parts = text.split(separator: "-")
    let bounds = parts.compactMap { Duration(configText: String($0)) }
    guard bounds.count == parts.count, (1...2).contains(bounds.count), bounds[0] <= bounds[bounds.count - 1] else { return nil }
    return bounds[0]...bounds[bounds.count - 1]
}

func parseHostPort(_ text: String) throws -> (String, Int) {
    do {
        let address = try ListenAddress(parsing: text)
        return (address.host, address.port)
    } catch {
        throw UsageFailure(message: "--listen \(error)")
    }
}

/// Writes a line to stdout at once, so a parent process reading our first line is not kept waiting.
func printLine(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
