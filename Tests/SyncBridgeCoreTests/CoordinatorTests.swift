import Testing
@testable import SyncBridgeCore

let target = "braze"
let keyA = IntegrationKey(target: target, integrationID: orders)
let keyB = IntegrationKey(target: target, integrationID: users)
let p0 = PartitionID(topic: "t", partition: 0)
let policy = CoalescePolicy(quiet: .seconds(10), maxDelay: .seconds(60))

func coordinator(triggers: RateLimit = RateLimit(count: 20, window: .seconds(60))) -> Coordinator {
    Coordinator(
        settings: CoordinatorSettings(
            targets: [target: TargetLimits(triggers: triggers, statuses: RateLimit(count: 100, window: .seconds(60)))],
            retry: RetryPolicy(initialBackoff: .seconds(1), maxBackoff: .seconds(60))
        ))
}

func at(_ seconds: Double) -> Moment { .seconds(seconds) }

extension Coordinator {
    mutating func consume(_ offset: Int64, _ keys: [IntegrationKey], at seconds: Double) -> [CoordinatorAction] {
        eventConsumed(EventRef(partition: p0, offset: offset), demands: Dictionary(uniqueKeysWithValues: keys.map { ($0, policy) }), at: at(seconds))
    }
}

func triggers(_ actions: [CoordinatorAction]) -> [IntegrationKey] {
    actions.compactMap { if case .trigger(let key) = $0 { key } else { nil } }
}

func commits(_ actions: [CoordinatorAction]) -> [PartitionID: Int64] {
    actions.reduce(into: [:]) { result, action in if case .commit(let offsets) = action { result.merge(offsets) { $1 } } }
}

@Suite struct CoordinatorTests {
    @Test func G3_burstIsCoalescedIntoOneTriggerAfterQuiet() {
        var c = coordinator()
        for i in 0..<5 { _ = c.consume(Int64(i), [keyA], at: Double(i)) }
        #expect(triggers(c.tick(at: at(10))).isEmpty)
        #expect(c.nextDeadline == at(14))
        #expect(triggers(c.tick(at: at(13.9))).isEmpty)
        #expect(triggers(c.tick(at: at(14))) == [keyA])
    }

    @Test func G3_steadyStreamIsTriggeredAtMaxDelay() {
        var c = coordinator()
        var fired: [Double] = []
        for i in 0..<100 {
            let now = Double(i) * 5
            _ = c.consume(Int64(i), [keyA], at: now)
            if !triggers(c.tick(at: at(now))).isEmpty {
                fired.append(now)
                break
            }
        }
        #expect(fired == [60])
    }

    @Test func G1_offsetsAreCommittedOnlyAfterAcceptance() {
        var c = coordinator()
        #expect(commits(c.consume(0, [], at: 0)) == [p0: 1])
        _ = c.consume(1, [keyA], at: 1)
        #expect(commits(c.consume(2, [], at: 2)).isEmpty)
        #expect(triggers(c.tick(at: at(12))) == [keyA])
        _ = c.consume(3, [keyA], at: 12.05)
        let after = c.triggerCompleted(keyA, result: .accepted, at: at(12.1))
        // Offset 3 arrived after the request was sent: it is not covered by it.
        #expect(commits(after) == [p0: 3])
        #expect(c.uncommittedEvents == 1)
    }

    @Test func G1_inProgressDoesNotCover() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        let actions = c.triggerCompleted(keyA, result: .inProgress, at: at(10.1))
        #expect(commits(actions).isEmpty)
        #expect(c.uncommittedEvents == 1)
    }

    @Test func G2_noTriggerWhileOurJobRunsThenOneTrailingTrigger() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(10.1))
        for i in 1...5 { _ = c.consume(Int64(i), [keyA], at: 10 + Double(i)) }
        // Quiet has passed for the new burst, but the job runs: poll, don't trigger.
        let first = c.tick(at: at(30))
        #expect(triggers(first).isEmpty)
        #expect(first.contains(.pollStatus(keyA)))
        let still = c.statusCompleted(keyA, result: .running, at: at(30.1))
        #expect(triggers(still).isEmpty)
        let next = c.nextDeadline!
        #expect(next > at(30.1))
        _ = c.tick(at: next)
        let done = c.statusCompleted(keyA, result: .finished(duration: .seconds(25)), at: next + .milliseconds(100))
        #expect(triggers(done) == [keyA])
        #expect(commits(c.triggerCompleted(keyA, result: .accepted, at: next + .milliseconds(200))) == [p0: 6])
    }

    /// With the status budget idle a running job with waiting events is polled every
    /// `fastPollInterval`; with the window nearly spent, no sooner than the usual 2 s floor.
    @Test(arguments: [0, 80])
    func statusBudgetHeadroomShortensThePollInterval(statusCallsAlreadySpent: Int) {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(10.1))
        _ = c.consume(1, [keyA], at: 11)
        // Other tools' (or earlier) status calls this window, as the server reports them.
        let remaining = 100 - statusCallsAlreadySpent
        let hint = RateLimitHint(remaining: remaining, resetAt: at(70))
        #expect(c.tick(at: at(21)).contains(.pollStatus(keyA)))
        _ = c.statusCompleted(keyA, result: .running, rateLimit: hint, at: at(21.1))
        let interval = c.nextDeadline! - at(21.1)
        if statusCallsAlreadySpent == 0 {
            // A twentieth of the job's 11 s age, above the 0.3 s floor.
            #expect(interval < .seconds(1), "polled again after \(interval)")
        } else {
            #expect(interval >= .seconds(2), "polled again after \(interval)")
        }
    }

    /// A first job, with no duration learned: with status budget to spare it is polled at the
    /// fast interval, so one shorter than the 5 s guess is seen ending promptly; with a budget
    /// too small for fast polling, after the guess.
    @Test(arguments: [100, 10])
    func aFirstJobIsPolledSoonOnlyWhenTheStatusBudgetAffordsIt(statusLimit: Int) {
        let settings = CoordinatorSettings(
            targets: [
                target: TargetLimits(
                    triggers: RateLimit(count: 20, window: .seconds(60)), statuses: RateLimit(count: statusLimit, window: .seconds(60)))
            ]
        )
        var c = Coordinator(settings: settings)
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(10.1))
        _ = c.consume(1, [keyA], at: 10.2)
        let firstPoll = c.nextDeadline!
        if statusLimit == 100 {
            #expect(firstPoll == at(10) + settings.fastPollInterval)
            #expect(c.tick(at: firstPoll).contains(.pollStatus(keyA)))
        } else {
            #expect(firstPoll == at(10) + settings.firstPollGuess)
            #expect(c.tick(at: at(14.9)).isEmpty)
        }
    }

    /// A batch is the same as its events one by one: the same pending work, the same commits
    /// (gathered into one action), the same trigger later.
    @Test func aBatchOfEventsActsLikeTheEventsOneByOne() {
        var single = coordinator(), batched = coordinator()
        let demands: [[IntegrationKey]] = [[], [], [keyA], [], [keyA, keyB], []]
        var singleCommits: [PartitionID: Int64] = [:]
        for (offset, keys) in demands.enumerated() { singleCommits.merge(commits(single.consume(Int64(offset), keys, at: 1))) { max($0, $1) } }
        let batch = demands.enumerated().map { offset, keys in
            ConsumedEvent(EventRef(partition: p0, offset: Int64(offset)), demands: Dictionary(uniqueKeysWithValues: keys.map { ($0, policy) }))
        }
        let actions = batched.eventsConsumed(batch, at: at(1))
        #expect(actions.filter { if case .commit = $0 { true } else { false } }.count == 1)
        #expect(commits(actions) == singleCommits)
        #expect(commits(actions) == [p0: 2])
        #expect(batched.uncommittedEvents == single.uncommittedEvents)
        #expect(batched.nextDeadline == single.nextDeadline)
        #expect(triggers(batched.tick(at: at(11))) == triggers(single.tick(at: at(11))))
    }

    @Test func G2_cleanIntegrationIsNeverPolled() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(10.1))
        #expect(c.nextDeadline == nil)
        #expect(c.tick(at: at(1000)).isEmpty)
    }

    @Test func G2_learnedDurationTimesTheFirstPoll() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(10))
        _ = c.consume(1, [keyA], at: 11)
        _ = c.tick(at: at(15))
        _ = c.statusCompleted(keyA, result: .finished(duration: .seconds(120)), at: at(15))
        // A dirty integration is triggered again once coalescing allows...
        #expect(triggers(c.tick(at: at(21))) == [keyA])
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(21))
        _ = c.consume(2, [keyA], at: 22)
        // ...and the next poll waits for the learned 120 s.
        #expect(c.nextDeadline == at(141))
    }

    @Test func G4_budgetIsNeverExceededAndOldestGoesFirst() {
        var c = coordinator(triggers: RateLimit(count: 2, window: .seconds(60)))
        let keys = (0..<4).map { IntegrationKey(target: target, integrationID: "00000000-0000-4000-8000-00000000000\($0)") }
        for (i, key) in keys.enumerated().reversed() { _ = c.consume(Int64(3 - i), [key], at: Double(3 - i)) }
        // keys[3] was consumed first.
        #expect(triggers(c.tick(at: at(20))) == [keys[3], keys[2]])
        #expect(c.nextDeadline == at(80))
        #expect(triggers(c.tick(at: at(79))).isEmpty)
        #expect(triggers(c.tick(at: at(80))) == [keys[1], keys[0]])
    }

    @Test func G4_resetHeaderBlocksTheTarget() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .rateLimited, rateLimit: RateLimitHint(remaining: 0, resetAt: at(45)), at: at(10.1))
        #expect(c.nextDeadline == at(45))
        #expect(triggers(c.tick(at: at(44))).isEmpty)
        #expect(triggers(c.tick(at: at(45))) == [keyA])
    }

    @Test func G5_notFoundDeadLettersAndDisablesUntilRulesChange() {
        var c = coordinator()
        _ = c.consume(0, [keyA, keyB], at: 0)
        let sent = c.tick(at: at(10))
        #expect(Set(triggers(sent)) == [keyA, keyB])
        _ = c.consume(1, [keyA], at: 10.05)
        let actions = c.triggerCompleted(keyA, result: .notFound, at: at(10.1))
        #expect(actions.contains(.disableIntegration(keyA, status: 404)))
        let orders = actions.compactMap { if case .deadLetter(let order) = $0 { order } else { nil } }
        #expect(orders.count == 1)
        #expect(orders[0].events == [EventRef(partition: p0, offset: 0), EventRef(partition: p0, offset: 1)])
        #expect(orders[0].reason == "integration_not_found")
        _ = c.triggerCompleted(keyB, result: .accepted, at: at(10.2))
        #expect(commits(c.deadLettersWritten(orders[0].id, at: at(10.3))) == [p0: 2])
        // Later events for the disabled integration are dead-lettered, never triggered.
        let later = c.consume(2, [keyA], at: 20)
        #expect(later.contains { if case .deadLetter = $0 { true } else { false } })
        #expect(triggers(c.tick(at: at(100))).isEmpty)
        c.rulesChanged()
        _ = c.consume(3, [keyA], at: 200)
        #expect(triggers(c.tick(at: at(210))) == [keyA])
    }

    @Test func G5_unauthorizedPausesTheTargetAndProbesWithLongBackoff() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.consume(1, [keyB], at: 0.5)
        _ = c.tick(at: at(11))
        let paused = c.triggerCompleted(keyA, result: .unauthorized, at: at(11))
        #expect(paused.contains(.pauseTarget(target, status: 401)))
        _ = c.triggerCompleted(keyB, result: .unauthorized, at: at(11))
        #expect(c.pausedTargets == [target: 401])
        #expect(c.nextDeadline == at(41))
        #expect(triggers(c.tick(at: at(40))).isEmpty)
        let probe = c.tick(at: at(41))
        #expect(triggers(probe).count == 1)
        let resumed = c.triggerCompleted(triggers(probe)[0], result: .accepted, at: at(41))
        #expect(resumed.contains(.resumeTarget(target)))
        #expect(triggers(resumed).count == 1)
        #expect(c.pausedTargets.isEmpty)
    }

    @Test func G6_serverErrorsBackOffWithJitterAndNothingIsCommitted() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        var now = 10.0
        var sent = triggers(c.tick(at: at(now)))
        var delays: [Duration] = []
        for _ in 0..<5 {
            #expect(sent == [keyA])
            #expect(commits(c.triggerCompleted(keyA, result: .serverError(status: 503), at: at(now))).isEmpty)
            let next = c.nextDeadline!
            delays.append(next - at(now))
            now = next.sinceOrigin.seconds
            sent = triggers(c.tick(at: next))
        }
        for (attempt, delay) in delays.enumerated() { #expect(delay <= .seconds(Double(1 << attempt))) }
        #expect(commits(c.triggerCompleted(keyA, result: .accepted, at: at(now))) == [p0: 1])
    }

    @Test func shutdownTriggersDirtyIntegrationsAtOnce() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        #expect(triggers(c.beginShutdown(at: at(1))) == [keyA])
    }

    @Test func revokedPartitionsAreForgottenWithoutTriggering() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.partitionsRevoked([p0], at: at(1))
        #expect(triggers(c.tick(at: at(100))).isEmpty)
        #expect(c.uncommittedEvents == 0)
    }
}

@Suite struct OffsetLedgerTests {
    @Test func commitsTheHighestFullyResolvedPrefixAndCompressesRuns() {
        var ledger = OffsetLedger()
        let e = (0..<6).map { EventRef(partition: p0, offset: Int64($0)) }
        ledger.record(e[0], outstanding: 1)
        ledger.record(e[1], outstanding: 0)
        ledger.record(e[2], outstanding: 2)
        ledger.record(e[3], outstanding: 0)
        ledger.record(e[4], outstanding: 0)
        #expect(ledger.takeCommittable().isEmpty)
        ledger.resolve(e[2])
        ledger.resolve(e[2])
        #expect(ledger.takeCommittable().isEmpty)
        #expect(ledger.runCount == 2)
        ledger.resolve(e[0])
        #expect(ledger.takeCommittable() == [p0: 5])
        #expect(ledger.runCount == 0)
        #expect(ledger.outstandingEvents == 0)
    }
}

@Suite struct StatusPolicyTests {
    @Test func G2_forbiddenStatusFallsBackToProbingWithTriggers() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(10))
        _ = c.consume(1, [keyA], at: 11)
        let poll = c.tick(at: at(15))
        #expect(poll.contains(.pollStatus(keyA)))
        // No permission to read status: the next attempt is a trigger, not another poll.
        let probe = c.statusCompleted(keyA, result: .forbidden, at: at(15))
        #expect(triggers(probe) == [keyA])
        _ = c.triggerCompleted(keyA, result: .inProgress, at: at(15.1))
        // Still running: probe again later with backoff, never immediately.
        #expect(c.tick(at: at(15.1)).isEmpty)
        let next = c.nextDeadline!
        #expect(next > at(15.1))
        #expect(triggers(c.tick(at: next)) == [keyA])
        #expect(commits(c.triggerCompleted(keyA, result: .accepted, at: next)) == [p0: 2])
    }

    @Test func G4_statusBudgetIsSharedOldestFirst() {
        var c = Coordinator(
            settings: CoordinatorSettings(
                targets: [
                    target: TargetLimits(triggers: RateLimit(count: 20, window: .seconds(60)), statuses: RateLimit(count: 1, window: .seconds(60)))
                ]
            ))
        for (offset, key) in [keyA, keyB].enumerated() {
            _ = c.consume(Int64(offset), [key], at: Double(offset))
        }
        _ = c.tick(at: at(11))
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(11))
        _ = c.triggerCompleted(keyB, result: .accepted, at: at(11))
        _ = c.consume(2, [keyB], at: 12)
        _ = c.consume(3, [keyA], at: 13)
        let polls = c.tick(at: at(20)).filter { if case .pollStatus = $0 { true } else { false } }
        // One status token: keyB's waiting event is older, so it is polled first.
        #expect(polls == [.pollStatus(keyB)])
        #expect(c.nextDeadline == at(80))
    }
}

@Suite struct OffsetLedgerOrderTests {
    /// Resolves in random order against a plain model: the committed offset is always the first
    /// offset with work left, and the runs stay few, however late the merging.
    @Test(arguments: [1, 2, 3, 4]) func anyResolveOrderCommitsExactlyTheResolvedPrefix(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var ledger = OffsetLedger()
        var left: [Int] = []
        var work: [Int64] = []
        for offset in 0..<3000 {
            let outstanding = Int.random(in: 0...2, using: &random)
            left.append(outstanding)
            work.append(contentsOf: Array(repeating: Int64(offset), count: outstanding))
            ledger.record(EventRef(partition: p0, offset: Int64(offset)), outstanding: outstanding)
        }
        work.shuffle(using: &random)
        var committed: Int64 = 0
        for (step, offset) in work.enumerated() {
            ledger.resolve(EventRef(partition: p0, offset: offset))
            left[Int(offset)] -= 1
            if let next = ledger.takeCommittable()[p0] { committed = next }
            let expected = Int64(left.firstIndex { $0 > 0 } ?? left.count)
            #expect(committed == expected, "after \(step + 1) resolves")
            if committed != expected { break }
            // Resolved runs merge: never more runs than offsets with work left, plus the resolved stretches between them.
            #expect(ledger.runCount <= 2 * left.filter { $0 > 0 }.count + 1)
        }
        #expect(committed == 3000)
        #expect(ledger.runCount == 0)
        #expect(ledger.outstandingEvents == 0)
    }

    /// Partitions interleaved, as a consumer sees them: each keeps its own prefix, and a dropped
    /// partition (revoked, then assigned again) starts afresh without disturbing the others.
    @Test(arguments: [5, 6]) func interleavedPartitionsAndADropKeepEachPrefix(seed: UInt64) {
        var random = SplitMix64(seed: seed)
        var ledger = OffsetLedger()
        let partitions = (0..<3).map { PartitionID(topic: "t\($0 % 2)", partition: Int32($0)) }
        var left: [[Int]] = Array(repeating: [], count: partitions.count)
        var work: [(Int, Int64)] = []
        for step in 0..<3000 {
            let which = Int.random(in: 0..<partitions.count, using: &random)
            let offset = Int64(left[which].count)
            let outstanding = Int.random(in: 0...2, using: &random)
            left[which].append(outstanding)
            work += Array(repeating: (which, offset), count: outstanding)
            ledger.record(EventRef(partition: partitions[which], offset: offset), outstanding: outstanding)
            if step == 1500 {
                ledger.drop(partitions[2])
                left[2] = left[2].map { _ in 0 }
                work.removeAll { $0.0 == 2 }
            }
        }
        work.shuffle(using: &random)
        var committed: [PartitionID: Int64] = [:]
        for (which, offset) in work {
            ledger.resolve(EventRef(partition: partitions[which], offset: offset))
            left[which][Int(offset)] -= 1
            committed.merge(ledger.takeCommittable()) { $1 }
        }
        // Partition 2's records before the drop are forgotten; those after it still commit to its end.
        for which in 0..<3 { #expect(committed[partitions[which]] == Int64(left[which].count)) }
        #expect(ledger.outstandingEvents == 0)
        #expect(ledger.outstandingByPartition.isEmpty)
        #expect(ledger.runCount == 0)
    }
}
