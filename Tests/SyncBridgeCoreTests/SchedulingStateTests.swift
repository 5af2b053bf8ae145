import Foundation
import Testing
@testable import SyncBridgeCore

func polls(_ actions: [CoordinatorAction]) -> [IntegrationKey] {
    actions.compactMap { if case .pollStatus(let key) = $0 { key } else { nil } }
}

/// Fleet mode's handover through the state topic, in virtual time: what one owner writes, the
/// next one restores before its first call.
@Suite struct SchedulingStateTests {
    let epoch = 1_800_000_000.0

    func clock(_ seconds: Double, skew: Double = 0) -> WallClock {
        WallClock(now: at(seconds), epochNow: epoch + seconds + skew)
    }

    /// Moves a schedule across a JSON round trip, as the state topic does.
    func handOver(_ schedule: TargetSchedule?) -> TargetSchedule? {
        TargetSchedule.decode(schedule?.encoded(), target: target)
    }

    @Test func handoverSpendsNoBudgetTwice() {
        var old = coordinator(triggers: RateLimit(count: 3, window: .seconds(60)))
        for (i, key) in [keyA, keyB, IntegrationKey(target: target, integrationID: "c"), IntegrationKey(target: target, integrationID: "d")]
            .enumerated()
        {
            _ = old.consume(Int64(i), [key], at: 0)
        }
        #expect(triggers(old.tick(at: at(10))).count == 3)
        let record = handOver(old.schedule(for: target, clock: clock(11)))
        #expect(record?.triggersSent.count == 3)

        // The new owner lives in another process: its clock starts elsewhere, its wall clock agrees.
        var new = coordinator(triggers: RateLimit(count: 3, window: .seconds(60)))
        new.restore(record, target: target, clock: WallClock(now: at(1000), epochNow: epoch + 12))
        _ = new.consume(0, [IntegrationKey(target: target, integrationID: "d")], at: 1000)
        #expect(triggers(new.tick(at: at(1011))).isEmpty, "the window is still full")
        #expect(new.nextDeadline == at(1000 + 58), "frees when the first trigger leaves the window")
        #expect(triggers(new.tick(at: at(1058))).count == 1)
    }

    @Test func aTriggerInFlightAtHandoverIsPolledBeforeTriggeringAgain() {
        var old = coordinator()
        _ = old.consume(0, [keyA], at: 0)
        #expect(triggers(old.tick(at: at(10))) == [keyA])
        let record = handOver(old.schedule(for: target, clock: clock(10.1)))
        #expect(record?.integrations.first?.job == .running)

        var new = coordinator()
        new.restore(record, target: target, clock: clock(11))
        _ = new.consume(1, [keyA], at: 11)
        var first: [CoordinatorAction] = []
        var now = 11.0
        while first.isEmpty, now < 100 {
            now += 0.5
            first = new.tick(at: at(now)).filter { if case .commit = $0 { false } else { true } }
        }
        #expect(polls(first) == [keyA], "the first call is a status poll, not a trigger")
        #expect(triggers(new.statusCompleted(keyA, result: .running, at: at(now + 0.1))).isEmpty)
        #expect(
            triggers(new.statusCompleted(keyA, result: .finished(duration: .seconds(30)), at: at(now + 0.1))).isEmpty, "no status poll was in flight")
    }

    @Test func runningJobsLearnedDurationsAndDisabledIntegrationsSurvive() {
        var old = coordinator()
        _ = old.consume(0, [keyA, keyB], at: 0)
        _ = old.tick(at: at(10))
        _ = old.triggerCompleted(keyA, result: .accepted, at: at(10.1))
        _ = old.triggerCompleted(keyB, result: .notFound, at: at(10.1))
        _ = old.consume(1, [keyA], at: 11)
        #expect(polls(old.tick(at: at(15))) == [keyA])
        _ = old.statusCompleted(keyA, result: .finished(duration: .seconds(42)), at: at(15.1))
        #expect(triggers(old.tick(at: at(21))) == [keyA])
        _ = old.triggerCompleted(keyA, result: .accepted, at: at(21.1))
        let record = handOver(old.schedule(for: target, clock: clock(22)))!
        let a = record.integrations.first { $0.id == keyA.integrationID }
        let b = record.integrations.first { $0.id == keyB.integrationID }
        #expect(a?.job == .running)
        #expect(a?.durations == [42])
        #expect(b?.disabledStatus == 404)

        var new = coordinator()
        new.restore(record, target: target, clock: clock(23))
        // The learned 42 s is the first poll's delay: no poll before the job could have ended.
        _ = new.consume(2, [keyA], at: 23)
        #expect(new.nextDeadline == at(21 + 42))
        #expect(polls(new.tick(at: at(62))).isEmpty)
        #expect(polls(new.tick(at: at(63))) == [keyA])
        // 404 stays disabled: its events are dead-lettered at once, with no call.
        let b2 = new.consume(3, [keyB], at: 64)
        #expect(b2.contains { if case .deadLetter(let order) = $0 { order.status == 404 } else { false } })
    }

    @Test func noRecordMeansStatusBeforeTheFirstTrigger() {
        var c = coordinator()
        c.restore(nil, target: target, clock: clock(0))
        _ = c.consume(0, [keyA], at: 0)
        #expect(polls(c.tick(at: at(0))) == [keyA])
        let after = c.statusCompleted(keyA, result: .noJobs, at: at(0.1))
        #expect(triggers(after).isEmpty, "coalescing still applies once the job is known idle")
        #expect(triggers(c.tick(at: at(10))) == [keyA])
    }

    @Test func cautiousStartWaitsOutAJobItFindsRunning() {
        var c = coordinator()
        c.restore(nil, target: target, clock: clock(0))
        _ = c.consume(0, [keyA], at: 0)
        #expect(polls(c.tick(at: at(0))) == [keyA])
        _ = c.statusCompleted(keyA, result: .running, at: at(0.1))
        var now = 0.1
        var polled = 0
        var afterEnd: [CoordinatorAction] = []
        while now < 30 {
            now += 0.1
            let actions = c.tick(at: at(now))
            #expect(triggers(actions).isEmpty, "no trigger while the job it found runs")
            if !polls(actions).isEmpty {
                polled += 1
                let answer = c.statusCompleted(keyA, result: now > 20 ? .finished(duration: nil) : .running, at: at(now))
                if now > 20 {
                    afterEnd = answer
                    break
                }
                #expect(triggers(answer).isEmpty)
            }
        }
        #expect(polled >= 2)
        #expect(triggers(afterEnd) == [keyA], "triggered once the job it found has ended")
    }

    @Test(arguments: [
        "", "{", "null", "[]", "{\"version\":1}",
        "{\"version\":2,\"target\":\"braze\",\"writtenAt\":0,\"triggersSent\":[],\"statusesSent\":[],\"integrations\":[]}",
        "{\"version\":1,\"target\":\"other\",\"writtenAt\":0,\"triggersSent\":[],\"statusesSent\":[],\"integrations\":[]}",
    ])
    func corruptOrForeignRecordsAreRefused(_ text: String) {
        #expect(TargetSchedule.decode(Array(text.utf8), target: target) == nil)
    }

    @Test func absurdTimesInARecordAreClampedAndNeverTrap() {
        let record = TargetSchedule(
            target: target, writtenAt: 1e300, triggersSent: Array(repeating: 1e308, count: 1000), statusesSent: [-1e308],
            triggersBlockedUntil: 9e300,
            integrations: [
                IntegrationSchedule(
                    id: keyA.integrationID, job: .running, runningSince: -1e300, nextPollAt: 1e300, durations: [1e300, -5, .greatestFiniteMagnitude],
                    disabledStatus: 500)
            ]
        )
        let decoded = TargetSchedule.decode(record.encoded(), target: target)
        #expect(decoded != nil)
        var c = coordinator()
        c.restore(decoded, target: target, clock: clock(0))
        _ = c.consume(0, [keyA], at: 0)
        // Blocked and polled within a day at most, and not disabled by a 500.
        #expect(c.nextDeadline! <= at(86_400))
        let actions = c.tick(at: at(86_400))
        #expect(!actions.contains { if case .deadLetter = $0 { true } else { false } })
        #expect(polls(actions) == [keyA])
    }

    @Test func entriesThatAreNotIntegrationIDsAreNotRestored() {
        let record = TargetSchedule(
            target: target, writtenAt: epoch, triggersSent: [], statusesSent: [],
            integrations: [
                IntegrationSchedule(id: "not-an-id", job: .running, runningSince: epoch, nextPollAt: epoch),
                IntegrationSchedule(id: keyA.integrationID.uppercased(), job: .running, runningSince: epoch, nextPollAt: epoch),
                IntegrationSchedule(id: keyA.integrationID, job: .running, runningSince: epoch, nextPollAt: epoch),
            ])
        var c = coordinator()
        c.restore(TargetSchedule.decode(record.encoded(), target: target), target: target, clock: clock(0))
        #expect(c.schedule(for: target, clock: clock(1))?.integrations.map(\.id) == [keyA.integrationID])
    }

    @Test func wallClockSkewBetweenOwnersOnlyShiftsTheWindow() {
        var old = coordinator(triggers: RateLimit(count: 1, window: .seconds(60)))
        _ = old.consume(0, [keyA], at: 0)
        _ = old.tick(at: at(10))
        let record = handOver(old.schedule(for: target, clock: clock(10)))
        var new = coordinator(triggers: RateLimit(count: 1, window: .seconds(60)))
        // The new owner's wall clock runs 5 s ahead: the old trigger looks 5 s older.
        new.restore(record, target: target, clock: clock(20, skew: 5))
        _ = new.consume(0, [keyB], at: 20)
        _ = new.tick(at: at(30))
        #expect(new.nextDeadline == at(65))
    }

    @Test func aForwardingTargetFlushesOnItsIntervalAndWaitsOnNoJob() {
        var c = Coordinator(
            settings: CoordinatorSettings(targets: [
                target: TargetLimits(
                    triggers: RateLimit(count: 1_000_000, window: .seconds(1)), statuses: RateLimit(count: 1, window: .seconds(1)),
                    forwardEvery: .milliseconds(100))
            ]))
        _ = c.consume(0, [keyA], at: 0)
        _ = c.consume(1, [keyA], at: 0.05)
        #expect(triggers(c.tick(at: at(0.09))).isEmpty)
        #expect(triggers(c.tick(at: at(0.1))) == [keyA])
        let batch = c.inFlightBatch(keyA)
        #expect(batch?.count == 2)
        #expect(batch?.first == at(0) && batch?.last == at(0.05))
        #expect(batch?.policy == policy)
        #expect(commits(c.triggerCompleted(keyA, result: .accepted, at: at(0.11))) == [p0: 2])
        _ = c.consume(2, [keyA], at: 0.12)
        #expect(triggers(c.tick(at: at(0.22))) == [keyA], "no job to wait for: the next flush goes at once")
    }

    @Test func aRequestRecordKeepsItsEventsTimesForCoalescingAndLatency() {
        var c = coordinator()
        let key = keyA
        _ = c.eventConsumed(EventRef(partition: p0, offset: 0), demands: [key: policy], span: at(0)...at(4), at: at(5))
        // Quiet counts from the last source event (4 s), not from when the request arrived.
        #expect(c.nextDeadline == at(14))
        _ = c.tick(at: at(14))
        let accepted = c.triggerCompleted(key, result: .accepted, at: at(15))
        #expect(accepted.contains(.covered(key, latencies: [.seconds(15)])), "latency counts from the first source event")
    }
}
