import Kafka
import Synchronization
import Testing

// Serialized: consumers block in poll, and the machine running tests may have few cores.
@Suite(.serialized)
struct KafkaTests {
    @Test func consumesEveryRecordIncludingTombstonesAndHeaders() async throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("users", partitions: 3)
        let producer = try makeProducer(cluster)
        for index in 0..<10 {
            try await producer.produce(topic: "users", key: bytes("user-\(index)"), value: bytes("v\(index)"))
        }
        try await producer.produce(topic: "users", key: bytes("user-gone"), value: nil)
        let headers = [KafkaHeader(name: "trace", value: [1, 2, 3]), KafkaHeader(name: "flag", value: nil)]
        try await producer.produce(topic: "users", key: bytes("user-h"), value: [], headers: headers)
        producer.close()

        let consumer = try makeConsumer(cluster, group: "g1", topics: ["users"])
        defer { consumer.close() }
        let seen = Observed()
        #expect(pollUntil([(consumer, seen)]) { seen.messages.count >= 12 })

        #expect(seen.messages.count == 12)
        #expect(Set(seen.assignedEvents.joined()) == Set((0..<3).map { TopicPartition(topic: "users", partition: $0) }))
        let byKey = Dictionary(uniqueKeysWithValues: seen.messages.map { (text($0.key)!, $0) })
        #expect(Set((0..<10).map { text(byKey["user-\($0)"]?.value) }) == Set((0..<10).map { "v\($0)" }))
        #expect(byKey["user-gone"] != nil)
        #expect(byKey["user-gone"]?.value == nil)
        #expect(byKey["user-h"]?.value == [])
        #expect(byKey["user-h"]?.headers == headers)
        #expect(byKey["user-0"]?.headers == [])
        #expect(seen.messages.allSatisfy { $0.timestamp != nil })
    }

    @Test func newMemberResumesFromCommittedOffsets() async throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("orders", partitions: 2)
        let producer = try makeProducer(cluster)
        for partition: Int32 in [0, 1] {
            for index in 0..<3 {
                try await producer.produce(topic: "orders", key: nil, value: bytes("p\(partition)-\(index)"), partition: partition)
            }
        }
        producer.close()
        let p0 = TopicPartition(topic: "orders", partition: 0)
        let p1 = TopicPartition(topic: "orders", partition: 1)

        let first = try makeConsumer(cluster, group: "g2", topics: ["orders"])
        let firstSeen = Observed()
        #expect(pollUntil([(first, firstSeen)]) { firstSeen.messages.count >= 6 })
        #expect(pollUntil([(first, firstSeen)]) { first.lag() == [p0: 0, p1: 0] })
        // Processed p0 offsets 0...1 and all of p1: commit the next offsets to read.
        try first.commit([p0: 2, p1: 3])
        #expect(try first.committed([p0, p1], timeoutMilliseconds: 5000) == [p0: 2, p1: 3])
        first.close()
        first.close()

        let second = try makeConsumer(cluster, group: "g2", topics: ["orders"])
        defer { second.close() }
        let secondSeen = Observed()
        #expect(pollUntil([(second, secondSeen)]) { !secondSeen.messages.isEmpty })
        drain(second, into: secondSeen, seconds: 1)
        #expect(secondSeen.messages.map { text($0.value) } == ["p0-2"])
        #expect(secondSeen.messages.first?.offset == 2)
    }

    @Test func patternSubscriptionMatchesOnlyMatchingTopics() async throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        let topics = ["users.data-updated", "orders.data-updated", "users.data-deleted", "data-updated"]
        for topic in topics { try cluster.createTopic(topic, partitions: 1) }
        let producer = try makeProducer(cluster)
        defer { producer.close() }
        for topic in topics { try await producer.produce(topic: topic, key: nil, value: bytes(topic)) }

        let consumer = try makeConsumer(cluster, group: "g3", topics: ["^.+\\.data-updated$"])
        defer { consumer.close() }
        let seen = Observed()
        #expect(pollUntil([(consumer, seen)]) { seen.messages.count >= 2 })

        // Topics created after subscribing are picked up on the next metadata refresh.
        try cluster.createTopic("late.data-updated", partitions: 1)
        try await producer.produce(topic: "late.data-updated", key: nil, value: bytes("late"))
        #expect(pollUntil([(consumer, seen)]) { seen.messages.count >= 3 })
        drain(consumer, into: seen, seconds: 1)
        #expect(Set(seen.messages.map(\.topic)) == ["users.data-updated", "orders.data-updated", "late.data-updated"])
        #expect(seen.messages.count == 3)
    }

    @Test func groupMembersSharePartitionsAndTakeOverOnLeave() throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("shared", partitions: 4)
        let all = Set((0..<4).map { TopicPartition(topic: "shared", partition: $0) })

        let a = try makeConsumer(cluster, group: "g4", topics: ["shared"])
        defer { a.close() }
        let aSeen = Observed()
        #expect(pollUntil([(a, aSeen)]) { aSeen.assignment == all })

        let b = try makeConsumer(cluster, group: "g4", topics: ["shared"])
        let bSeen = Observed()
        let shared = pollUntil([(a, aSeen), (b, bSeen)]) {
            !aSeen.assignment.isEmpty && !bSeen.assignment.isEmpty
                && aSeen.assignment.isDisjoint(with: bSeen.assignment)
                && aSeen.assignment.union(bSeen.assignment) == all
        }
        #expect(shared)
        #expect(!aSeen.revokedEvents.isEmpty)

        b.close()
        // Events raised while leaving the group are still handed out after close.
        while let event = b.poll(timeoutMilliseconds: 0) { bSeen.record(event) }
        #expect(bSeen.assignment.isEmpty)
        #expect(pollUntil([(a, aSeen)]) { aSeen.assignment == all })
    }

    /// With `refusedCommits` OffsetCommit requests answered REBALANCE_IN_PROGRESS, more than the
    /// revocation's own retries take, the commit lands after the rebalance instead.
    @Test(arguments: [0, 45])
    func revokedPartitionsOffsetsAreCommittedForTheirNextOwner(refusedCommits: Int) throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("handover", partitions: 2)
        let all = Set((0..<2).map { TopicPartition(topic: "handover", partition: $0) })

        // The embedded coordinator waits session.timeout - 1 s for members to rejoin a rebalance;
        // on a loaded 2-core machine 4.5 s was sometimes too short for `a`, which was then expelled
        // and lost its partitions instead of handing them over.
        let patientGroup = quickGroup.merging(["session.timeout.ms": "10000"]) { $1 }
        let a = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, groupID: "g-handover", topics: ["handover"], properties: patientGroup)
        defer { a.close() }
        let askedFor = Mutex<[[TopicPartition]]>([])
        // Pretend everything up to offset 7 is covered on each partition.
        a.storeBeforeRevoke { revoked in
            askedFor.withLock { $0.append(revoked) }
            return Dictionary(uniqueKeysWithValues: all.map { ($0, 7) })
        }
        let aSeen = Observed()
        #expect(pollUntil([(a, aSeen)]) { aSeen.assignment == all })
        // OffsetCommit is API key 8; 27 is REBALANCE_IN_PROGRESS.
        if refusedCommits > 0 { cluster.pushRequestErrors(apiKey: 8, errors: Array(repeating: 27, count: refusedCommits)) }

        // `b` polls on its own thread: while `a` sits in its revocation callback, `b`'s part of the
        // rebalance goes on, as it does for two processes (polled in turn from one thread, `b` could
        // not finish it, and the coordinator refused `a`'s commit as long as it waited).
        let b = try KafkaConsumer(bootstrapServers: cluster.bootstrapServers, groupID: "g-handover", topics: ["handover"], properties: patientGroup)
        defer { b.close() }
        let bPoller = BackgroundPoller(b)
        // Generous: under load the embedded coordinator can take two 9 s rejoin waits to settle.
        let handedOver = pollUntil([(a, aSeen)], seconds: 60) {
            bPoller.read { !$0.assignment.isEmpty && aSeen.assignment.isDisjoint(with: $0.assignment) }
        }
        bPoller.stop()
        let bSeen = bPoller.read { $0 }
        #expect(handedOver)
        let asked = askedFor.withLock { $0 }
        #expect(!asked.isEmpty)
        #expect(asked.first.map(Set.init).map { $0.isSubset(of: all) } == true)
        // The handover partition's offset is committed: inside the revocation, or, when the
        // coordinator refused that (the group was still joining), by `a` once the group settled.
        var committed: [TopicPartition: Int64] = [:]
        _ = pollUntil([(a, aSeen)], seconds: 100) {
            committed = (try? a.committed(Array(all), timeoutMilliseconds: 5_000)) ?? [:]
            return bSeen.assignment.allSatisfy { committed[$0] == 7 }
        }
        if refusedCommits > 0 {
            #expect(aSeen.errors.contains { $0.contains("commit before revocation failed") }, "the revocation's commit was refused: \(aSeen.errors)")
        }
        for partition in bSeen.assignment {
            #expect(
                committed[partition] == 7,
                "\(partition): committed \(committed); revocations asked \(asked); errors a \(aSeen.errors) b \(bSeen.errors)")
        }
    }

    /// librdkafka 2.0 aborted when a cooperative-sticky member was destroyed after its JoinGroup
    /// answer but before its first assignment (librdkafka#4312); SyncGroup answered
    /// REBALANCE_IN_PROGRESS holds a member in that window for as long as the errors last.
    @Test func closingBeforeTheFirstAssignmentLeavesTheGroupWithoutAborting() throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("joining", partitions: 2)
        let syncGroup: Int16 = 14
        let rebalanceInProgress: Int32 = 27
        cluster.pushRequestErrors(apiKey: syncGroup, errors: Array(repeating: rebalanceInProgress, count: 1000))

        let early = try makeConsumer(cluster, group: "g-early", topics: ["joining"])
        let earlySeen = Observed()
        #expect(pollUntil([(early, earlySeen)]) { early.memberID != nil })
        drain(early, into: earlySeen, seconds: 1)
        #expect(earlySeen.assignedEvents.isEmpty)
        early.close()
        #expect(early.memberID == nil)

        cluster.clearRequestErrors(apiKey: syncGroup)
        let next = try makeConsumer(cluster, group: "g-early", topics: ["joining"])
        defer { next.close() }
        let nextSeen = Observed()
        #expect(pollUntil([(next, nextSeen)]) { nextSeen.assignment.count == 2 })
    }

    @Test func pausedPartitionsDeliverNothingUntilResumed() async throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("paced", partitions: 2)
        let p0 = TopicPartition(topic: "paced", partition: 0)
        let consumer = try makeConsumer(cluster, group: "g5", topics: ["paced"])
        defer { consumer.close() }
        let seen = Observed()
        #expect(pollUntil([(consumer, seen)]) { seen.assignment.count == 2 })
        try consumer.pause([p0])

        let producer = try makeProducer(cluster)
        defer { producer.close() }
        for partition: Int32 in [0, 1] {
            try await producer.produce(topic: "paced", key: nil, value: bytes("p\(partition)"), partition: partition)
        }
        #expect(pollUntil([(consumer, seen)]) { !seen.messages.isEmpty })
        drain(consumer, into: seen, seconds: 0.5)
        #expect(seen.messages.map(\.partition) == [1])

        try consumer.resume([p0])
        #expect(pollUntil([(consumer, seen)]) { seen.messages.count == 2 })
        #expect(seen.messages.last?.partition == 0)
    }

    @Test func deliverySurvivesABrokerOutage() async throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("outage", partitions: 1)
        let producer = try makeProducer(cluster)
        defer { producer.close() }
        try await producer.produce(topic: "outage", key: nil, value: bytes("before"))

        try cluster.setBrokerDown(1)
        let pending = Task { try await producer.produce(topic: "outage", key: nil, value: bytes("during")) }
        try await Task.sleep(for: .milliseconds(500))  // let the record queue up against the dead broker
        try cluster.setBrokerUp(1)
        try await pending.value
    }

    @Test func deliveryRetriesRetriableProduceErrors() async throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("flaky", partitions: 1)
        let producer = try makeProducer(cluster)
        defer { producer.close() }
        // ApiKey 0 is Produce; 19 is NOT_ENOUGH_REPLICAS, which the client retries.
        cluster.pushRequestErrors(apiKey: 0, errors: [19, 19])
        try await producer.produce(topic: "flaky", key: nil, value: bytes("eventually"))
    }

    @Test func permanentProduceErrorsFailTheCall() async throws {
        let cluster = try EmbeddedKafkaCluster()
        defer { cluster.shutdown() }
        try cluster.createTopic("strict", partitions: 1)
        let producer = try makeProducer(cluster)
        defer { producer.close() }
        // 10 is MESSAGE_TOO_LARGE, which is not retried.
        cluster.pushRequestErrors(apiKey: 0, errors: [10])
        let error = await #expect(throws: KafkaError.self) {
            try await producer.produce(topic: "strict", key: nil, value: bytes("rejected"))
        }
        #expect(error?.code == 10)
    }

    @Test func unknownPropertyIsNamedInTheError() throws {
        let error = #expect(throws: KafkaError.self) {
            try KafkaConsumer(
                bootstrapServers: "localhost:9092", groupID: "g", topics: ["t"],
                properties: ["no.such.setting": "1"])
        }
        #expect(error?.message.contains("unknown property 'no.such.setting'") == true)

        let invalid = #expect(throws: KafkaError.self) {
            try KafkaProducer(bootstrapServers: "localhost:9092", properties: ["linger.ms": "soon"])
        }
        #expect(invalid?.message.contains("'linger.ms'") == true)
    }

    @Test func closedClientsRefuseWork() async throws {
        let producer = try KafkaProducer(bootstrapServers: "localhost:1")
        producer.close()
        producer.close()
        await #expect(throws: KafkaError.self) {
            try await producer.produce(topic: "t", key: nil, value: nil)
        }
        let consumer = try KafkaConsumer(bootstrapServers: "localhost:1", groupID: "g", topics: ["t"])
        consumer.close()
        #expect(consumer.poll(timeoutMilliseconds: 0) == nil)
        #expect(throws: KafkaError.self) { try consumer.commit([TopicPartition(topic: "t", partition: 0): 1]) }
    }
}
