import Testing
@testable import SyncBridgeCore

/// The shortcuts the consumer's hot path takes keep the results they replaced.
@Suite struct HotPathTests {
    @Test func fixedDemandsAreSharedButNeverChangedByAMerge() throws {
        let rules = try ruleSet(
            """
              - { name: a, when: { topic: t, json: { /table: A } }, sync: ["\(orders)"] }
              - { name: b, when: { topic: t }, sync: ["\(orders)", "\(users)"], coalesce: { quiet: 1s } }
              - { name: c, when: { topic: u, json: { /table: A } }, sync: ["\(orders)"] }
            """)
        let both = rules.evaluate(IncomingEvent(topic: "t", value: Array(#"{"table":"A"}"#.utf8)))
        #expect(both.matchedRules == ["a", "b"])
        #expect(both.matchedRuleIndices == [0, 1])
        #expect(both.demands.count == 2)
        #expect(both.demands[IntegrationKey(target: "braze", integrationID: orders)]?.quiet == .seconds(1), "the tightest policy wins")
        // Rule c alone still yields its own demand, with its own policy: the merge above copied.
        let alone = rules.evaluate(IncomingEvent(topic: "u", value: Array(#"{"table":"A"}"#.utf8)))
        #expect(alone.matchedRules == ["c"])
        #expect(alone.matchedRuleIndices == [2])
        #expect(
            alone.demands == [IntegrationKey(target: "braze", integrationID: orders): CoalescePolicy(quiet: .seconds(10), maxDelay: .seconds(120))])
        let again = rules.evaluate(IncomingEvent(topic: "t", value: Array(#"{"table":"B"}"#.utf8)))
        #expect(again.matchedRuleIndices == [1])
        #expect(Set(again.demands.keys.map(\.integrationID)) == [orders, users])
    }

    /// Interned topics compare and hash as their names do, and partitions sort by name, not by
    /// the order their topics were first seen.
    @Test func internedTopicsKeepTheirNamesAndOrder() {
        let late = PartitionID(topic: "zz.interned-first.with-a-long-name", partition: 0)
        let early = PartitionID(topic: "aa.interned-second.with-a-long-name", partition: 0)
        #expect(late.topic == "zz.interned-first.with-a-long-name" && early.topic == "aa.interned-second.with-a-long-name")
        #expect(early < late && !(late < early))
        #expect(PartitionID(topic: "aa.interned-second.with-a-long-name", partition: 0) == early)
        #expect(PartitionID(topic: "aa.interned-second.with-a-long-name", partition: 1) != early)
        #expect(Set([early, late, PartitionID(topic: early.topic, partition: 0)]).count == 2)
        #expect(EventRef(topic: late.topic, partition: 3, offset: 7).description == "zz.interned-first.with-a-long-name[3]@7")
        #expect([late, early].sorted() == [early, late])
    }

    @Test func aPlanCacheFollowsTheTopicOfEachEvent() throws {
        let rules = try ruleSet(
            """
              - { name: a, when: { topic: t, json: { /table: A } }, sync: ["\(orders)"] }
              - { name: b, when: { topic: u, json: { /table: A } }, sync: ["\(users)"] }
            """)
        var cache = RuleSet.PlanCache()
        let value = Array(#"{"table":"A"}"#.utf8)
        for topic in ["t", "t", "u", "t", "u", "u", "v"] {
            let cached = rules.evaluate(IncomingEvent(topic: topic, value: value), cache: &cache)
            let uncached = rules.evaluate(IncomingEvent(topic: topic, value: value))
            #expect(cached.matchedRules == uncached.matchedRules, "topic \(topic)")
            #expect(cached.demands == uncached.demands, "topic \(topic)")
        }
        #expect(ids(rules.evaluate(IncomingEvent(topic: "u", value: value), cache: &cache)) == [users])
    }

    @Test func integrationKeysCompareAndHashByTheirText() {
        let id = String("3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70".reversed().reversed())
        let a = IntegrationKey(target: "braze", integrationID: id)
        let b = IntegrationKey(target: "braze", integrationID: "3c0a5a8e-1d3b-4c5e-9a51-0d2f3b1e6f70")
        #expect(a == b && a.hashValue == b.hashValue)
        #expect(a != IntegrationKey(target: "braze-eu", integrationID: id))
        #expect(a != IntegrationKey(target: "braze", integrationID: users))
        #expect(Set([a, b, IntegrationKey(target: "braze", integrationID: users)]).count == 2)
    }

    @Test func rateBudgetForgetsSendsThatLeftTheWindow() {
        var budget = RateBudget(limit: RateLimit(count: 1000, window: .seconds(60)))
        for second in 0..<100 { budget.consume(at(Double(second))) }
        // At 100 s, the sends of seconds 41...99 are inside the window (the one at 40 s just left it).
        #expect(budget.sentInWindow(at: at(100)).count == 59)
        #expect(budget.remaining(at: at(100)) == 941)
        #expect(budget.usedInWindow(at: at(100)) == 59)
        #expect(budget.nextRelease(at: at(100)) == at(101))
        budget.consume(at(200))
        #expect(budget.sentInWindow(at: at(200)) == [at(200)])
        #expect(budget.remaining(at: at(200)) == 999)
        #expect(budget.nextRelease(at: at(200)) == at(260))
    }

    @Test func rateBudgetKeepsSendsInOrderAfterASkewedRestore() {
        var budget = RateBudget(limit: RateLimit(count: 2, window: .seconds(60)))
        // The previous owner's clock ran 10 s ahead: its send maps after this clock's now.
        budget.restore(sent: [at(110)], blockedUntil: nil, now: at(100))
        budget.consume(at(100))
        #expect(budget.sentInWindow(at: at(100)) == [at(100), at(110)])
        #expect(budget.availableAt(at(100)) == at(160), "the older of the two leaves the window first")
        #expect(budget.nextRelease(at: at(100)) == at(160))
    }
}
