import Foundation
import Testing

/// `syncbridge rules check` and `rules test` as a user runs them: the built binary, exit codes, stderr.
@Suite struct RulesCommandLineTests {
    /// The `syncbridge` executable beside this test bundle in the build products directory.
    static let binary: URL? = {
        let bundle = Bundle.main.bundleURL
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent(),
            bundle.deletingLastPathComponent(),
            bundle.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent(),
        ]
        return candidates.map { $0.appendingPathComponent("syncbridge") }.first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }()

    /// Fails rather than skips: a missing binary would otherwise let these tests pass having run nothing.
    static func requiredBinary() throws -> URL {
        if let given = ProcessInfo.processInfo.environment["SYNCBRIDGE_BINARY"] { return URL(fileURLWithPath: given) }
        guard let binary else {
            throw CommandLineTestFailure(
                description:
                    "the syncbridge binary is not beside the test bundle; build it (swift build --product syncbridge) or set SYNCBRIDGE_BINARY")
        }
        return binary
    }

    static func run(_ arguments: [String], stdin: String? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = try requiredBinary()
        process.arguments = arguments
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    static func write(_ files: [String: String]) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return directory
    }

    static let config = """
        kafka: { brokers: embedded, group: g, topics: [warehouse.prod.data-updated] }
        targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: K }]
        rules_file: rules.yaml
        """

    @Test
    func G9_checkExitsZeroForValidRulesAndTwoWithFileAndLine() throws {
        let directory = try Self.write([
            "ok.yaml": Self.config,
            "rules.yaml":
                "- { name: orders, when: { topic: \"warehouse.*.data-updated\", json: { /table: ORDERS } }, sync: [\"\(integrationOrders)\"] }\n",
            "bad.yaml": Self.config.replacingOccurrences(of: "rules.yaml", with: "bad-rules.yaml"),
            "bad-rules.yaml": "- name: orders\n  when: { topic: t }\n  sync: [not-a-uuid]\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }

        let ok = try Self.run(["rules", "check", "--config", directory.appendingPathComponent("ok.yaml").path])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("ok: 1 rule, 1 target"))
        #expect(ok.stderr.isEmpty)

        let bad = try Self.run(["rules", "check", "--config", directory.appendingPathComponent("bad.yaml").path])
        #expect(bad.status == 2)
        #expect(
            bad.stderr.hasPrefix(
                "\(directory.appendingPathComponent("bad-rules.yaml").path):3: rule 'orders': 'not-a-uuid' is not a Braze integration ID"))

        let missing = try Self.run(["rules", "check", "--config", directory.appendingPathComponent("absent.yaml").path])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("absent.yaml:0: cannot read the file"))
    }

    @Test
    func testShowsTheMatchAndWhatItWouldTrigger() throws {
        let directory = try Self.write([
            "ok.yaml": Self.config,
            "rules.yaml":
                "- { name: orders, when: { topic: \"warehouse.*.data-updated\", json: { /table: ORDERS } }, sync: [\"\(integrationOrders)\"] }\n",
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("ok.yaml").path
        let hit = try Self.run(["rules", "test", "--config", config, "--topic", "warehouse.prod.data-updated", "-"], stdin: #"{"table":"ORDERS"}"#)
        #expect(hit.status == 0)
        #expect(hit.stdout.contains("MATCH    orders"))
        #expect(hit.stdout.contains("Would trigger on braze: \(integrationOrders)"))
        let miss = try Self.run(["rules", "test", "--config", config, "--topic", "warehouse.prod.data-updated", "-"], stdin: #"{"table":"USERS"}"#)
        #expect(miss.status == 0)
        #expect(miss.stdout.contains("Triggers nothing"))
        let usage = try Self.run(["rules", "test", "--config", config, "--topic", "t", "--header", "novalue", "-"], stdin: "{}")
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("--header 'novalue' must be NAME=VALUE"))
    }
}

struct CommandLineTestFailure: Error, CustomStringConvertible {
    var description: String
}
