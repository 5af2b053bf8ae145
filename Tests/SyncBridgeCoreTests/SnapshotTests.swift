import Testing
@testable import SyncBridgeCore

/// The operator's view: each state SPEC §4 names, reached in virtual time, with its next action.
@Suite struct SnapshotTests {
    func view(_ c: Coordinator, at seconds: Double, _ key: IntegrationKey = keyA) -> IntegrationSnapshot? {
        c.snapshot(at: at(seconds)).integrations.first { $0.key == key }
    }

    @Test func anIntegrationWalksThroughCoalescingDueRunningAndIdle() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.consume(1, [keyA], at: 3)
        let coalescing = view(c, at: 5)
        #expect(coalescing?.phase == .coalescing)
        #expect(coalescing?.pendingEvents == 2)
        #expect(coalescing?.oldestPendingAt == at(0))
        #expect(coalescing?.lastEventAt == at(3))
        #expect(coalescing?.next == NextAction(kind: .trigger, at: at(13)))

        #expect(view(c, at: 13)?.phase == .due)
        #expect(triggers(c.tick(at: at(13))) == [keyA])
        #expect(view(c, at: 13.1)?.phase == .due)
        #expect(view(c, at: 13.1)?.next?.kind == .awaitAnswer)

        _ = c.triggerCompleted(keyA, result: .accepted, at: at(13.2))
        let running = view(c, at: 14)
        #expect(running?.phase == .running)
        #expect(running?.next == nil, "a running job with nothing waiting is not polled (G2)")
        #expect(running?.jobRunningSince == at(13))
        #expect(running?.lastTrigger?.outcome == "accepted")
        #expect(running?.lastTrigger?.events == 2)
        #expect(running?.lastTrigger?.latency == .milliseconds(200))

        _ = c.consume(2, [keyA], at: 15)
        let withNew = view(c, at: 15)
        #expect(withNew?.phase == .runningWithNewEvents)
        #expect(withNew?.next?.kind == .poll)

        let deadline = c.nextDeadline!
        #expect(c.tick(at: deadline).contains(.pollStatus(keyA)))
        _ = c.statusCompleted(keyA, result: .finished(duration: .seconds(4)), at: deadline + .milliseconds(50))
        let after = view(c, at: deadline.sinceOrigin.seconds + 0.1)
        #expect(after?.lastStatus?.outcome == "finished")
        #expect(after?.lastStatus?.jobDuration == .seconds(4))
        #expect(after?.learnedDurations == [.seconds(4)])
        #expect(after?.phase == .coalescing)
    }

    @Test func anIntegrationShortOfTriggerTokensWaitsForBudget() {
        var c = coordinator(triggers: RateLimit(count: 1, window: .seconds(60)))
        _ = c.consume(0, [keyA, keyB], at: 0)
        #expect(triggers(c.tick(at: at(10))) == [keyA])
        let waiting = view(c, at: 11, keyB)
        #expect(waiting?.phase == .waitingForBudget)
        #expect(waiting?.next == NextAction(kind: .trigger, at: at(70)))
        let budget = c.snapshot(at: at(11)).targets.first { $0.name == target }?.triggers
        #expect(budget?.used == 1)
        #expect(budget?.remaining == 0)
        #expect(budget?.nextRelease == at(70))
    }

    @Test func serverErrorsBackOffAndBadIDsDisable() {
        var c = coordinator()
        _ = c.consume(0, [keyA, keyB], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .serverError(status: 503), at: at(10.1))
        _ = c.triggerCompleted(keyB, result: .notFound, at: at(10.1))
        let backingOff = view(c, at: 10.1)
        // The coordinator's seed is fixed, so the jittered backoff is too.
        #expect(backingOff?.phase == .backingOff)
        #expect(backingOff?.next == NextAction(kind: .trigger, at: backingOff!.retryAt!))
        #expect(backingOff?.failures == 1)
        #expect(backingOff?.lastTrigger?.outcome == "server_error_503")
        let disabled = view(c, at: 10.1, keyB)
        #expect(disabled?.phase == .disabled)
        #expect(disabled?.disabledStatus == 404)
        #expect(disabled?.next == nil)
    }

    @Test func aPausedTargetShowsItsProbe() {
        var c = coordinator()
        _ = c.consume(0, [keyA], at: 0)
        _ = c.tick(at: at(10))
        _ = c.triggerCompleted(keyA, result: .unauthorized, at: at(10))
        let paused = view(c, at: 11)
        #expect(paused?.phase == .paused)
        #expect(paused?.next?.kind == .probe)
        let targetView = c.snapshot(at: at(11)).targets.first
        #expect(targetView?.pausedStatus == 401)
        #expect(targetView?.nextProbeAt == paused?.next?.at)
    }

    @Test func historyIsBoundedAndOnlyGivenForOneID() {
        var c = coordinator(triggers: RateLimit(count: 1000, window: .seconds(60)))
        var now = at(0)
        // Each event is triggered (accepted), and the next one waits for a poll to see the job end.
        func answer(_ actions: [CoordinatorAction]) {
            for action in actions {
                switch action {
                case .trigger(let key): answer(c.triggerCompleted(key, result: .accepted, at: now))
                case .pollStatus(let key): answer(c.statusCompleted(key, result: .finished(duration: .seconds(1)), at: now))
                default: break
                }
            }
        }
        for offset in 0..<150 {
            _ = c.consume(Int64(offset), [keyA], at: now.sinceOrigin.seconds)
            while let deadline = c.nextDeadline {
                now = deadline
                answer(c.tick(at: now))
            }
            now = now + .seconds(1)
        }
        #expect(c.uncommittedEvents == 0)
        #expect(c.snapshot(at: now).integrations.first?.history == nil)
        let one = c.snapshot(at: now, integrationID: keyA.integrationID)
        #expect(one.integrations.count == 1)
        let history = one.integrations.first?.history ?? []
        #expect(history.count == IntegrationActivity.historyLimit)
        #expect(history.last?.outcome == "accepted")
        #expect(Set(history.map(\.kind)) == [.trigger, .status])
        #expect(c.snapshot(at: now, integrationID: users).integrations.isEmpty)
    }

    @Test func theTimelineCountsEventsAndCallsPerBucketOverHalfAnHour() {
        var c = coordinator()
        for offset in 0..<3 { _ = c.consume(Int64(offset), [keyA], at: 1) }
        _ = c.tick(at: at(11))
        _ = c.triggerCompleted(keyA, result: .rateLimited, at: at(11))
        _ = c.tick(at: at(40))
        _ = c.triggerCompleted(keyA, result: .accepted, at: at(40))
        let buckets = view(c, at: 45)?.timeline ?? []
        #expect(buckets.count == ActivityTimeline.bucketCount)
        #expect(buckets.last?.start == at(30))
        let first = buckets[buckets.count - 2].counts
        #expect(first[ActivityTimeline.Lane.events.rawValue] == 3)
        #expect(first[ActivityTimeline.Lane.rateLimited.rawValue] == 1)
        #expect(buckets.last?.counts[ActivityTimeline.Lane.accepted.rawValue] == 1)
        // Half an hour later the old buckets have rolled out of the ring.
        let later = view(c, at: 45 + ActivityTimeline.span.seconds)?.timeline ?? []
        #expect(later.allSatisfy { $0.counts == .zero })
    }
}
