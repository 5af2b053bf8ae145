import Foundation

/// One entry of the simulator's request log, served at `GET /_sim/requests`.
public struct SimRequest: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case trigger, status, list, other
    }

    public var method: String
    public var path: String
    public var integrationID: String?
    /// The response status; 0 when the connection was dropped.
    public var status: Int
    /// The response body's `message`.
    public var message: String?
    /// Epoch seconds.
    public var receivedAt: Double
    public var kind: Kind

    public init(method: String, path: String, integrationID: String?, status: Int, message: String?, receivedAt: Double, kind: Kind) {
        self.method = method
        self.path = path
        self.integrationID = integrationID
        self.status = status
        self.message = message
        self.receivedAt = receivedAt
        self.kind = kind
    }
}
