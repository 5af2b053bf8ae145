import Foundation
import SyncBridgeCore
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The operator's view of a real `syncbridge run`: `syncbridge inspect` as a separate process,
/// and the status page rendered by headless Chromium (Debian's `chromium`, which `make test`
/// installs). Jobs last a minute in the simulator, so every integration is caught running with new
/// events waiting for it.
@Suite(.serialized) struct OperatorViewProcessTests {
    static let token = "ops-token-4567"

    @Test func inspectAndTheStatusPageShowWhatEachIntegrationWaitsFor() async throws {
        try await withFaultRig { rig in
            try await rig.startBroker()
            try await rig.startSimulator(syncDuration: "60s")
            let service = try await rig.startService(config: try rig.writeConfig(rateLimit: "100/1m", http: true, adminToken: Self.token))
            let base = "http://127.0.0.1:\(try await rig.httpPort(of: service))"

            try await rig.produce(30)
            #expect(try await waitUntil(seconds: 15) { try await rig.simulatorLog().filter { $0.status == 202 }.count == 3 })
            try await rig.produce(6, startingAt: 30)
            let caught = try await waitUntil(seconds: 15) {
                try await Self.document(base).integrations.filter { $0.state == "running_with_new_events" }.count == 3
            }
            #expect(caught, "each integration shows its running job and the 2 events waiting for it")

            let table = try rig.spawn("inspect-table", ["inspect", "--url", base], environment: ["SYNCBRIDGE_ADMIN_TOKEN": Self.token])
            #expect(await table.waitForExit(seconds: 30) == 0, "inspect failed: \(table.output)")
            let lines = table.output.split(separator: "\n")
            #expect(lines.first?.hasPrefix("Target braze: triggers 3 of 100 used") == true, "\(table.output)")
            #expect(lines.contains { $0.hasPrefix("TARGET") && $0.contains("INTEGRATION") && $0.contains("STATE") })
            for id in integrations {
                #expect(lines.contains { $0.contains(id) && $0.contains("running_with_new_events") && $0.contains("accepted") }, "\(table.output)")
            }

            let one = try rig.spawn("inspect-one", ["inspect", "--url", base, integrations[0]], environment: ["SYNCBRIDGE_ADMIN_TOKEN": Self.token])
            #expect(await one.waitForExit(seconds: 30) == 0, "inspect failed: \(one.output)")
            #expect(one.output.contains("2 events waiting since"), "\(one.output)")
            #expect(one.output.contains("is still running"))
            #expect(one.output.contains("Fed by rules: orders."))
            #expect(one.output.contains("Recent calls, newest first"))
            #expect(one.output.contains("trigger  accepted"))

            let refused = try rig.spawn("inspect-no-token", ["inspect", "--url", base], environment: ["SYNCBRIDGE_ADMIN_TOKEN": ""])
            #expect(await refused.waitForExit(seconds: 30) == 1)
            #expect(refused.output.contains("answered 401") && refused.output.contains("SYNCBRIDGE_ADMIN_TOKEN"), "\(refused.output)")

            let dom = try await Self.renderedPage(base, rig: rig)
            #expect(dom.contains(#"<body data-loaded="true">"#), "the page fetched and drew the view: \(dom.suffix(2000))")
            for id in integrations {
                #expect(dom.contains(#"<tr data-integration="\#(id)" data-target="braze" data-state="running_with_new_events">"#))
            }
            #expect(dom.contains(#"class="state state-running_with_new_events">running with new events</span>"#))
            #expect(dom.contains(#"data-used="3" data-limit="100""#), "the trigger gauge shows the 3 triggers")
            #expect(dom.contains(#"class="trigger accepted""#), "the timeline marks the accepted triggers")

            // Its log went to a file, so it is JSON lines throughout: librdkafka's own lines included, nothing raw.
            let logLines = service.output.split(separator: "\n")
            #expect(!logLines.isEmpty)
            let raw = logLines.filter { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] == nil }
            #expect(raw.isEmpty, "lines that are not JSON objects: \(raw.prefix(5))")
        }
    }

    static func document(_ base: String) async throws -> IntegrationsDocument {
        var request = URLRequest(url: URL(string: base + "/v1/integrations")!, timeoutInterval: 10)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, _) = try await URLSession.shared.data(for: request)
        return try IntegrationsDocument.decoder.decode(IntegrationsDocument.self, from: data)
    }

    /// The page's DOM after its script ran, from headless Chromium; with `SYNCBRIDGE_SCREENSHOT`
    /// set, a screenshot of it is saved there too (the README's).
    static func renderedPage(_ base: String, rig: FaultRig) async throws -> String {
        let names = ["chromium", "chromium-browser", "google-chrome"]
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
        guard let browser = names.flatMap({ name in path.map { "\($0)/\(name)" } }).first(where: FileManager.default.isExecutableFile) else {
            throw FaultTestFailure(description: "headless Chromium not found: install Debian's chromium package (make test does)")
        }
        let url = "\(base)/#token=\(token)"
        let flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--user-data-dir=\(rig.directory.appendingPathComponent("chromium").path)", "--virtual-time-budget=5000",
        ]
        if let screenshot = ProcessInfo.processInfo.environment["SYNCBRIDGE_SCREENSHOT"] {
            let shot = try rig.spawn(
                "chromium-screenshot", executable: browser,
                flags + ["--hide-scrollbars", "--window-size=1400,440", "--screenshot=\(screenshot)", url])
            _ = await shot.waitForExit(seconds: 60)
        }
        let chromium = try rig.spawn("chromium", executable: browser, flags + ["--dump-dom", url])
        guard await chromium.waitForExit(seconds: 60) == 0 else {
            throw FaultTestFailure(description: "chromium failed: \(chromium.output.suffix(2000))")
        }
        return chromium.output
    }
}
