import ArgumentParser
import Foundation
import SyncBridgeCore

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `syncbridge inspect`: asks a running service what each integration waits for (SPEC §2).
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what a running service's integrations are waiting for: a table, or one integration in sentences.")

    @Option(help: "The service's http.listen address, like http://127.0.0.1:8080.") var url: String
    @Argument(help: "An integration ID: describe it, with its recent calls.") var integrationID: String?

    static let tokenVariable = "SYNCBRIDGE_ADMIN_TOKEN"

    func run() async throws {
        var base = url.hasPrefix("http://") || url.hasPrefix("https://") ? url : "http://" + url
        while base.hasSuffix("/") { base.removeLast() }
        var path = "/v1/integrations"
        if let integrationID {
            guard let id = canonicalIntegrationID(integrationID) else {
                throw UsageFailure(message: "'\(integrationID)' is not a Braze integration ID (a UUID like 3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70)")
            }
            path += "/" + id
        }
        guard let endpoint = URL(string: base + path) else { throw UsageFailure(message: "--url '\(url)' is not a URL") }
        var request = URLRequest(url: endpoint, timeoutInterval: 10)
        if let token = ProcessInfo.processInfo.environment[Self.tokenVariable], !token.isEmpty {
            request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        }
        let (data, response): (Data, URLResponse)
        do {
            (data, response) = try await URLSession.shared.data(for: request)
        } catch {
            throw RuntimeFailure(message: "cannot reach \(endpoint): \(error.localizedDescription); is the service running with http.listen set?")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else {
            let message = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["message"] as? String ?? "HTTP \(status)"
            let hint = status == 401 ? " (set \(Self.tokenVariable) to one of http.admin_tokens)" : ""
            throw RuntimeFailure(message: "\(endpoint) answered \(status): \(message)\(hint)")
        }
        let document: IntegrationsDocument
        do {
            document = try IntegrationsDocument.decoder.decode(IntegrationsDocument.self, from: data)
        } catch {
            throw RuntimeFailure(message: "\(endpoint) did not answer with the integrations view: \(error)")
        }
        print(integrationID == nil ? InspectReport.table(document) : InspectReport.sentences(document))
    }
}
