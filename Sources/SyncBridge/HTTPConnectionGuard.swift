import HummingbirdCore
import Logging
import NIOCore
import NIOHTTPTypes
import SyncBridgeCore

/// The HTTP/1.1 server of the endpoints, with the limits a server facing the outside needs:
/// at most `http.max_connections` open connections (one more is answered 503 with Retry-After
/// and closed), and a deadline for every phase of a connection, so that neither an idle client,
/// nor one trickling its head or body a byte at a time, nor one never reading its response,
/// holds a connection for ever.
///
/// | phase | deadline, counted from |
/// |---|---|
/// | no request under way | `http.idle_timeout`, the connection's start or the last response |
/// | reading the head | `http.header_timeout`, its first byte |
/// | reading the body | `http.read_timeout`, the head |
/// | answering | `http.ingress_timeout` + `http.read_timeout`, the end of the body |
///
/// Two handlers share the work: `ConnectionGuard` sees raw bytes (so it knows when a head
/// starts, before the parser has anything to show) and `RequestDeadlines` sees parsed parts.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let responder: HTTPChannelHandler.Responder
    let limits: RequestDeadlines.Limits
    let connections: ConnectionCount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let deadlines = RequestDeadlines(limits: limits, logger: logger)
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(connections: connections, deadlines: deadlines), position: .first)
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        // Called during `setup`, on the channel's event loop.
        let bound = NIOLoopBound(deadlines, eventLoop: channel.eventLoop)
        let http = HTTP1Channel(responder: responder, configuration: .init(additionalChannelHandlers: [bound.value]))
        return http.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await HTTP1Channel(responder: responder).handle(value: value, logger: logger)
    }
}

/// Thrown into a request body that did not arrive whole within `http.read_timeout`.
struct RequestReadTimeout: Error, CustomStringConvertible {
    var description: String { "the request body did not arrive within http.read_timeout" }
}

/// First in the pipeline: admits or refuses the connection, and tells `RequestDeadlines` when
/// bytes arrive.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State { case new, admitted, refused, closed }

    private let connections: ConnectionCount
    private let deadlines: RequestDeadlines
    private var state = State.new

    init(connections: ConnectionCount, deadlines: RequestDeadlines) {
        self.connections = connections
        self.deadlines = deadlines
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // A refused connection's request is read and dropped: its answer is already on the way.
        guard state != .refused else { return }
        deadlines.bytesArrived()
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state == .admitted { connections.close() }
        state = .closed
        deadlines.stop()
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if state == .refused, let event = event as? ChannelEvent, event == .inputClosed {
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard state == .new else { return }
        if connections.tryOpen() {
            state = .admitted
            deadlines.start()
        } else {
            state = .refused
            refuse(context)
        }
    }

    /// Answers 503 before reading the request, then half-closes so the client reads the answer
    /// rather than a reset; the connection is closed for good shortly after.
    private func refuse(_ context: ChannelHandlerContext) {
        let body = #"{"message":"the server has http.max_connections (\#(connections.limit)) connections open; retry later"}"#
        let response =
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n" + body
        let channel = context.channel
        context.writeAndFlush(NIOAny(ByteBuffer(string: response))).whenComplete { _ in
            channel.close(mode: .output, promise: nil)
        }
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}

/// After the HTTP parser: moves a connection through its phases and closes it when one overruns.
final class RequestDeadlines: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    struct Limits: Sendable {
        var idle: TimeAmount
        var header: TimeAmount
        var read: TimeAmount
        var respond: TimeAmount

        init(_ settings: HTTPSettings) {
            idle = .init(settings.idleTimeout)
            header = .init(settings.headerTimeout)
            read = .init(settings.readTimeout)
            respond = .init(settings.ingressTimeout + settings.readTimeout)
        }
    }

    private enum Phase: String { case idle, head, body, responding }

    private let limits: Limits
    private let logger: Logger
    private var context: ChannelHandlerContext?
    private var started = false
    private var phase = Phase.idle
    private var responsesPending = 0
    /// Bytes of a pipelined request arrived while the previous one was being answered.
    private var nextRequestStarted = false
    private var timer: Scheduled<Void>?

    init(limits: Limits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    /// The connection was admitted.
    func start() {
        started = true
        enter(.idle)
    }

    /// The connection closed.
    func stop() {
        started = false
        timer?.cancel()
        timer = nil
    }

    func bytesArrived() {
        guard started else { return }
        switch phase {
        case .idle: enter(.head)
        case .responding: nextRequestStarted = true
        case .head, .body: break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            responsesPending += 1
            nextRequestStarted = false
            enter(.body)
        case .body:
            break
        case .end:
            // An early answer (401, 413, 503) may already have gone out while the body was drained.
            enter(responsesPending > 0 ? .responding : .idle)
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            responsesPending = max(0, responsesPending - 1)
            if phase == .responding, responsesPending == 0 { enter(nextRequestStarted ? .head : .idle) }
        }
        context.write(data, promise: promise)
    }

    private func enter(_ next: Phase) {
        phase = next
        timer?.cancel()
        timer = nil
        guard started, let context else { return }
        let limit =
            switch next {
            case .idle: limits.idle
            case .head: limits.header
            case .body: limits.read
            case .responding: limits.respond
            }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { [weak self] in self?.expired(next) }
    }

    private func expired(_ expired: Phase) {
        timer = nil
        guard let context, started, phase == expired else { return }
        logger.debug(
            "closing an HTTP connection from \(context.remoteAddress?.description ?? "?"): its \(expired.rawValue) phase overran its deadline")
        let channel = context.channel
        guard expired == .body else {
            channel.close(promise: nil)
            return
        }
        // The handler reading the body gets an error, not a body cut short, and can answer 408;
        // the connection closes shortly after either way.
        context.fireErrorCaught(RequestReadTimeout())
        channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
    }
}
