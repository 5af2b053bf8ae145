import Foundation
import Testing

/// Runs the README's examples through the built `syncbridge` binary, so the README can't drift from what it does.
///
/// Only blocks marked with an HTML comment on the line just before their fence are run:
/// - `<!-- readme-test: config NAME -->`: a whole config, written as NAME and checked with `rules check`;
/// - `<!-- readme-test: rules NAME -->`: a rules list, written as NAME and checked under a minimal config;
/// - `<!-- readme-test: commands -->`: its `syncbridge rules check` / `rules test` lines are run in the directory
///   holding the configs above; after a `$ ` prompt, the lines up to the next prompt are the expected stdout.
@Suite struct ReadmeTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let readme = Readme(text: (try? String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)) ?? "")

    @Test
    func readmeMarksTheBlocksItsExamplesDependOn() {
        #expect(Self.readme.problems.isEmpty, "\(Self.readme.problems)")
        #expect(Self.readme.blocks.contains { $0.kind == .config && $0.name == "sb.yaml" })
        #expect(Self.readme.blocks.filter { $0.kind == .rules }.count >= 5)
        let commands = Self.readme.blocks.filter { $0.kind == .commands }.flatMap { Self.commands(in: $0) }
        #expect(commands.contains { $0.arguments.starts(with: ["rules", "check"]) })
        #expect(commands.contains { $0.arguments.starts(with: ["rules", "test"]) && $0.expectedOutput != nil })
    }

    @Test(arguments: readme.blocks.filter { $0.kind != .commands })
    func markedConfigPassesRulesCheck(_ block: Readme.Block) throws {
        let directory = try Self.writeConfigs()
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = block.kind == .rules ? Self.wrapperName(forRules: block.name) : block.name
        let result = try Self.run(["rules", "check", "--config", config], in: directory)
        #expect(result.status == 0, "README line \(block.line): \(result.stderr)")
        #expect(result.stdout.hasPrefix("\(config): ok: "))
        #expect(result.stderr.isEmpty)
    }

    @Test(arguments: readme.blocks.filter { $0.kind == .commands })
    func markedCommandsRunAsShown(_ block: Readme.Block) throws {
        let commands = Self.commands(in: block)
        #expect(!commands.isEmpty, "README line \(block.line): a block marked 'commands' has no syncbridge rules command")
        let directory = try Self.writeConfigs()
        defer { try? FileManager.default.removeItem(at: directory) }
        for command in commands {
            let result = try Self.run(command.arguments, in: directory)
            #expect(result.status == 0, "README line \(block.line): syncbridge \(command.arguments.joined(separator: " ")): \(result.stderr)")
            if let expected = command.expectedOutput {
                #expect(Self.normalized(result.stdout) == Self.normalized(expected), "README line \(block.line): the output changed")
            }
        }
    }

    // MARK: - Running the README

    struct Command {
        var arguments: [String]
        var expectedOutput: String?
    }

    /// The `syncbridge rules check|test` lines of a block; sample paths are taken from the repository root.
    static func commands(in block: Readme.Block) -> [Command] {
        var commands: [Command] = []
        var outputLines: [String]?
        func finishOutput() {
            if let lines = outputLines, !commands.isEmpty { commands[commands.count - 1].expectedOutput = lines.joined(separator: "\n") }
            outputLines = nil
        }
        for line in block.lines {
            let prompted = line.hasPrefix("$ ")
            let commandText = prompted ? String(line.dropFirst(2)) : line
            let words = commandText.split(separator: "#", maxSplits: 1).first.map { $0.split(separator: " ").map(String.init) } ?? []
            if prompted || words.first == "syncbridge" { finishOutput() }
            if words.count >= 3, words[0] == "syncbridge", words[1] == "rules", ["check", "test"].contains(words[2]) {
                let arguments = words.dropFirst().map { $0.hasPrefix("Tests/") ? repositoryRoot.appendingPathComponent($0).path : $0 }
                commands.append(Command(arguments: arguments))
                if prompted { outputLines = [] }
            } else if outputLines != nil {
                outputLines?.append(line)
            }
        }
        finishOutput()
        return commands
    }

    static func wrapperName(forRules name: String) -> String { "config-for-\(name)" }

    /// Every marked config and rules list in a fresh directory, each rules list with a minimal config naming it.
    static func writeConfigs() throws -> URL {
        var files: [String: String] = [:]
        for block in readme.blocks {
            switch block.kind {
            case .config:
                files[block.name] = block.lines.joined(separator: "\n") + "\n"
            case .rules:
                files[block.name] = block.lines.joined(separator: "\n") + "\n"
                files[wrapperName(forRules: block.name)] = """
                    kafka: { brokers: embedded, group: readme, topics: ["^.+$"] }
                    targets: [{ name: braze, endpoint: "https://rest.iad-01.braze.com", api_key_env: BRAZE_API_KEY }]
                    rules_file: \(block.name)

                    """
            case .commands:
                break
            }
        }
        return try RulesCommandLineTests.write(files)
    }

    static func run(_ arguments: [String], in directory: URL) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = try RulesCommandLineTests.requiredBinary()
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    /// Trailing spaces and trailing blank lines are not part of what the README shows.
    static func normalized(_ text: String) -> String {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            String(line.reversed().drop { $0 == " " }.reversed())
        }
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n")
    }
}

/// The marked fenced blocks of a Markdown file, and what is wrong with any marker.
struct Readme {
    enum Kind: String, Sendable { case config, rules, commands }

    struct Block: Sendable, CustomTestStringConvertible {
        var kind: Kind
        var name: String
        var line: Int
        var lines: [String]
        var testDescription: String { "\([kind.rawValue, name].filter { !$0.isEmpty }.joined(separator: " ")) (README line \(line))" }
    }

    var blocks: [Block] = []
    var problems: [String] = []

    init(text: String) {
        if text.isEmpty { problems.append("README.md is missing or empty") }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let prefix = "<!-- readme-test:", suffix = "-->"
        var index = 0
        while index < lines.count {
            let marker = lines[index].trimmingCharacters(in: .whitespaces)
            index += 1
            guard marker.hasPrefix(prefix), marker.hasSuffix(suffix) else { continue }
            let words = marker.dropFirst(prefix.count).dropLast(suffix.count).split(separator: " ").map(String.init)
            guard let kind = words.first.flatMap(Kind.init(rawValue:)), (kind == .commands) == (words.count == 1), words.count <= 2 else {
                problems.append("line \(index): '\(marker)' is not 'config NAME', 'rules NAME' or 'commands'")
                continue
            }
            guard index < lines.count, lines[index].hasPrefix("```") else {
                problems.append("line \(index): the marker is not followed by a fenced block on the next line")
                continue
            }
            let start = index + 1
            guard let end = lines[start...].firstIndex(where: { $0.hasPrefix("```") }) else {
                problems.append("line \(index): the block is never closed")
                break
            }
            blocks.append(Block(kind: kind, name: words.count == 2 ? words[1] : "", line: start + 1, lines: Array(lines[start..<end])))
            index = end + 1
        }
    }
}
