import FuzzSupport
import SyncBridgeCore

/// Fleet mode's records, which arrive from Kafka and so from outside: a state-topic record
/// (a target's scheduling state) and a requests-topic record. An input is a state record, a
/// NUL, then a request record. Decoding may refuse either; whatever decodes is restored into a
/// coordinator and fed to it, and the coordinator must then neither trap nor stall: every
/// pending request is triggered, polled or dead-lettered within a simulated month.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFleetRecords(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let parts = FuzzInput.parts(data, size, count: 2)
    let schedule = TargetSchedule.decode(parts[0], target: "braze")
    let request = RequestCodec(targets: ["braze"]).decode(parts[1])
    var coordinator = Coordinator(settings: CoordinatorSettings(targets: ["braze": .braze]))
    let clock = WallClock(now: .seconds(1000), epochNow: 1_800_000_000)
    coordinator.restore(schedule, target: "braze", clock: clock)
    guard let request else { return 0 }
    var actions = coordinator.eventConsumed(
        EventRef(topic: "g.requests", partition: 0, offset: 0), demands: [request.key: request.policy], span: request.span(on: clock), at: clock.now
    )
    var now = clock.now
    func handled(_ actions: [CoordinatorAction]) -> Bool {
        actions.contains {
            switch $0 {
            case .trigger, .pollStatus, .deadLetter: return true
            default: return false
            }
        }
    }
    var called = handled(actions)
    // Deadlines only move forward, so at most a few hundred ticks reach a day ahead.
    var ticks = 0
    while !called, ticks < 10_000, let deadline = coordinator.nextDeadline, deadline <= clock.now + .seconds(86_400 * 31) {
        now = max(now, deadline)
        actions = coordinator.tick(at: now)
        called = handled(actions)
        ticks += 1
    }
    FuzzInput.require(called, "a decoded request was never called for nor dead-lettered: \(request), schedule \(String(describing: schedule))")
    return 0
}
