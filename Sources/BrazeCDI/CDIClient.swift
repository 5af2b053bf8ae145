import Foundation

/// The HTTP client for Braze Cloud Data Ingestion: triggers syncs, reads job status and lists
/// integrations, and classifies every answer into a `CDIOutcome` with its rate-limit headers.
/// It owns all libcurl use in SyncBridge (TLS verification always on, keep-alive handles,
/// blocking transfers kept off the cooperative pool) and decides nothing about retries or
/// scheduling. The API key is sent only in the `Authorization` header and is redacted from
/// every message, description and reflection.
///
/// ```swift
/// let client = try CDIClient(endpoint: "https://rest.iad-03.braze.com", apiKey: key)
/// let response = await client.triggerSync(integrationID: id)
/// if response.outcome == .accepted { ... }
/// ```
public final class CDIClient: Sendable {
    /// The REST endpoint, without a trailing slash.
    public let endpoint: String
    public let timeout: Duration
    /// False for a plain-http endpoint (a local simulator); callers should warn, since the key then travels unencrypted.
    public var usesTLS: Bool { endpoint.lowercased().hasPrefix("https://") }
    private let apiKey: Secret
    private let session = CurlSession()

    /// - Parameters:
    ///   - endpoint: `https://rest.<instance>.braze.com`; plain `http` is accepted for a local simulator.
    ///   - timeout: bound on each whole request, connection included.
    public init(endpoint: String, apiKey: String, timeout: Duration = .seconds(10)) throws(CDIClientError) {
        let trimmed = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        guard let components = URLComponents(string: trimmed),
            let scheme = components.scheme?.lowercased(), scheme == "https" || scheme == "http",
            let host = components.host, !host.isEmpty,
            components.query == nil, components.fragment == nil, components.user == nil
        else { throw .invalidEndpoint }
        guard !apiKey.isEmpty, apiKey.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F })
        else { throw .invalidAPIKey }
        guard timeout > .zero else { throw .invalidTimeout }
        self.endpoint = trimmed
        self.apiKey = Secret(apiKey)
        self.timeout = timeout
    }

    /// `POST /cdi/integrations/{id}/sync`. The body is `()` when the sync was accepted.
    public func triggerSync(integrationID: String) async -> CDIResponse<Void> {
        await send(.post, "/cdi/integrations/\(Self.escaped(integrationID))/sync", cursor: nil) { _, _ in () }
    }

    /// `GET /cdi/integrations/{id}/job_sync_status`, newest job first.
    public func jobSyncStatus(integrationID: String, cursor: String? = nil) async -> CDIResponse<JobSyncStatusPage> {
        await send(.get, "/cdi/integrations/\(Self.escaped(integrationID))/job_sync_status", cursor: cursor) { data, headers in
            let page = try JSONDecoder().decode(Page<JobSyncStatus>.self, from: data)
            return JobSyncStatusPage(results: page.results ?? [], nextCursor: Self.nextCursor(page.cursor, headers))
        }
    }

    /// `GET /cdi/integrations`.
    public func listIntegrations(cursor: String? = nil) async -> CDIResponse<IntegrationPage> {
        await send(.get, "/cdi/integrations", cursor: cursor) { data, headers in
            let page = try JSONDecoder().decode(Page<Integration>.self, from: data)
            return IntegrationPage(results: page.results ?? [], nextCursor: Self.nextCursor(page.cursor, headers))
        }
    }

    private func send<Body: Sendable>(
        _ method: CurlRequest.Method, _ path: String, cursor: String?,
        decode: (Data, [(name: String, value: String)]) throws -> Body
    ) async -> CDIResponse<Body> {
        var url = endpoint + path
        if let cursor { url += "?cursor=" + Self.escaped(cursor) }
        var headers = ["Authorization: Bearer \(apiKey.value)", "Accept: application/json"]
        if method == .post { headers.append("Content-Type: application/json") }
        let request = CurlRequest(method: method, url: url, headers: headers, body: method == .post ? "" : nil, timeout: timeout)

        let exchange: HTTPExchange
        switch await session.perform(request) {
        case .success(let value): exchange = value
        case .failure(let failure): return CDIResponse(outcome: .networkError(redacted(failure.message)), status: 0)
        }

        let data = Data(exchange.body)
        let rateLimit = RateLimitHeaders(headers: exchange.headers)
        let message = (try? JSONDecoder().decode(MessageBody.self, from: data))?.message.map(redacted)
        var response = CDIResponse<Body>(
            outcome: CDIOutcome(status: exchange.status, message: message, rateLimit: rateLimit),
            status: exchange.status, rateLimit: rateLimit, message: message
        )
        if response.outcome == .accepted {
            do {
                response.body = try decode(data, exchange.headers)
            } catch {
                // Still accepted: the request took effect even if its answer is unreadable.
                response.message = message ?? "unreadable response body"
            }
        }
        return response
    }

    private func redacted(_ text: String) -> String {
        text.replacingOccurrences(of: apiKey.value, with: Secret.placeholder)
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters.
    static func escaped(_ component: String) -> String {
        component.addingPercentEncoding(withAllowedCharacters: unreserved) ?? component
    }

    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
    )

    /// The next page's cursor: a body `cursor` field, else the `cursor` of the `Link` header's `rel="next"` URL.
    static func nextCursor(_ bodyCursor: String?, _ headers: [(name: String, value: String)]) -> String? {
        if let bodyCursor, !bodyCursor.isEmpty { return bodyCursor }
        let links = headers.filter { $0.name.caseInsensitiveCompare("Link") == .orderedSame }.map(\.value)
        for link in links.flatMap({ $0.split(separator: ",") }) {
            let parts = link.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let target = parts.first, target.hasPrefix("<"), target.hasSuffix(">"),
                parts.dropFirst().contains(where: { $0.replacingOccurrences(of: "\"", with: "").lowercased() == "rel=next" })
            else { continue }
            let url = URLComponents(string: String(target.dropFirst().dropLast()))
            if let cursor = url?.queryItems?.first(where: { $0.name == "cursor" })?.value { return cursor }
        }
        return nil
    }
}

extension CDIClient: CustomStringConvertible, CustomReflectable {
    public var description: String { "CDIClient(\(endpoint))" }
    public var customMirror: Mirror { Mirror(self, children: ["endpoint": endpoint, "timeout": timeout]) }
}

/// Why a `CDIClient` could not be created. Never contains the key itself.
public struct CDIClientError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String

    public static let invalidEndpoint = CDIClientError(
        description: "endpoint must be an http(s) URL with a host and no query, e.g. https://rest.iad-01.braze.com")
    public static let invalidAPIKey = CDIClientError(description: "API key must be non-empty printable ASCII without spaces")
    public static let invalidTimeout = CDIClientError(description: "timeout must be positive")
}

/// Holds the API key so that printing, dumping or reflecting never shows it.
private struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    static let placeholder = "<redacted>"
    let value: String
    init(_ value: String) { self.value = value }
    var description: String { Self.placeholder }
    var debugDescription: String { Self.placeholder }
    var customMirror: Mirror { Mirror(self, children: []) }
}

private struct MessageBody: Decodable {
    var message: String?
}

private struct Page<Result: Decodable>: Decodable {
    var results: [Result]?
    var cursor: String?
}
