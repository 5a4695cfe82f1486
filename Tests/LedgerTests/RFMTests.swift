import Testing
@testable import Ledger
@testable import LedgerDomain

/// RFM segments and lifetime stages against a reading of the clients' cards written here.
@Suite("RFM and lifetime segments")
struct RFMTests {
    @Test("the precedence where score ranges overlap, by name")
    func precedence() {
        let cases: [((Int, Int, Int), RFMSegment)] = [
            ((5, 5, 5), .champions), ((4, 4, 4), .champions),
            ((1, 5, 5), .cantLose), ((1, 4, 1), .cantLose),
            ((2, 5, 5), .atRisk), ((1, 3, 2), .atRisk), ((2, 3, 1), .atRisk),
            ((5, 5, 1), .loyal), ((3, 4, 5), .loyal),
            ((5, 1, 5), .newCustomers), ((5, 1, 1), .newCustomers),
            ((4, 2, 5), .potentialLoyalists), ((5, 3, 1), .potentialLoyalists),
            ((1, 1, 5), .hibernating), ((2, 2, 2), .hibernating),
            ((3, 2, 3), .needAttention), ((4, 1, 4), .needAttention), ((3, 3, 3), .needAttention),
        ]
        for ((r, f, m), want) in cases { #expect(RFMSegment.of(recency: r, frequency: f, monetary: m) == want, "\(r)\(f)\(m)") }
    }

    @Test("scores are quintile ranks of each client's recency, frequency and money, and stages follow the thresholds; members and the command agree")
    func againstCards() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(ledger, SnapshotTests.days(clients: 300, days: 150, seed: 41)[...])
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        let now = SegmentQuery.now(view.state)
        let today = Time.day(of: now)
        let thresholds = LifetimeThresholds(newDays: 20, activeDays: 40, lostDays: 90)
        let a = view.rfm(thresholds: thresholds)
        let cards = view.state.clients.filter { !$0.deleted }.map { view.client(id: $0.id)! }
        let buyers = cards.filter { $0.stats.purchaseCount > 0 }
        #expect(a.scored.count == buyers.count && a.stages.count == cards.count)
        func days(_ t: Timestamp) -> Int64 { today - t.microsecondsSince1970 / Time.microsPerDay }
        let n = buyers.count
        for s in a.scored {
            let card = cards.first { $0.id.rawValue == view.state.clientID(Int(s.client)) }!
            let r = days(card.stats.lastPurchaseAt!), f = card.stats.purchaseCount, m = card.stats.purchaseSum.minorUnits
            let rWorse = buyers.filter { days($0.stats.lastPurchaseAt!) > r }.count
            let fWorse = buyers.filter { $0.stats.purchaseCount < f }.count
            let mWorse = buyers.filter { $0.stats.purchaseSum.minorUnits < m }.count
            #expect((s.recency, s.frequency, s.monetary) == (1 + min(4, rWorse * 5 / n), 1 + min(4, fWorse * 5 / n), 1 + min(4, mWorse * 5 / n)), "\(card.id)")
        }
        // Quintiles: no score of recency holds much more than a fifth unless values tie.
        let counts = Dictionary(grouping: a.scored, by: \.recency).mapValues(\.count)
        #expect(counts.count >= 4, "\(counts)")
        for (client, stage) in a.stages {
            let card = cards.first { $0.id.rawValue == view.state.clientID(Int(client)) }!
            let inProgram = days(card.registeredAt)
            let idle = card.stats.lastPurchaseAt.map(days) ?? inProgram
            let want: LifetimeStage = inProgram <= 20 ? .new : idle <= 40 ? .active : idle <= 90 ? .sleeping : .lost
            #expect(stage == want, "\(card.id)")
        }
        #expect(LifetimeStage.allCases.allSatisfy { a.count($0) > 0 } || a.count(.lost) == 0)
        // Members by name, and the command.
        let defaults = view.rfm()
        let champions = try view.segmentMembers("rfm:Champions")
        #expect(champions.count == defaults.count(.champions) && champions.count > 0)
        #expect(try view.segmentMembers("lifetime:active").count == defaults.count(.active))
        #expect(throws: SegmentError.self) { try view.segmentMembers("rfm:Whales") }
        let run = Run(["--data", dir.path, "segment", "rfm", "--json"], stdin: "")
        #expect(run.json?["rfm"]?["Champions"] == .integer(Int64(defaults.count(.champions))) && run.json?["scored"] == .integer(Int64(n)), "\(run.stdout) \(run.stderr)")
        let members = Run(["--data", dir.path, "segment", "members", "rfm:At risk", "--json"], stdin: "")
        #expect(members.json?["count"] == .integer(Int64(defaults.count(.atRisk))))
        #expect(Run(["--data", dir.path, "segment", "members", "lifetime:dormant"], stdin: "").status == 1)
    }

    @Test("the lifetime thresholds are rules: rules.changed sets them, the stages follow, a snapshot keeps them, lostDays below activeDays is refused")
    func thresholdsInTheRules() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(ledger, SnapshotTests.days(clients: 200, days: 120, seed: 42)[...])
        let before = ledger.read { $0.rules.lifetimeThresholds }
        #expect(before == LifetimeThresholds(newDays: 30, activeDays: 90, lostDays: 180))
        let t = ledger.read { $0.lastEventAt }
        let changed = try ledger.submit([try CommandParser.parse(line: #"{"type":"rules.changed","at":"\#(Time.iso(t))","rules":{"newClientDays":10,"activeDays":20,"lostDays":50}}"#, number: 1)])
        #expect(changed[0].isAccepted)
        #expect(throws: InvalidInput.self) { try CommandParser.parse(line: #"{"type":"rules.changed","rules":{"activeDays":60,"lostDays":30}}"#, number: 1) }
        _ = try ledger.writeSnapshot()
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        #expect(view.startSnapshot != nil && view.state.rules.lifetimeThresholds == LifetimeThresholds(newDays: 10, activeDays: 20, lostDays: 50))
        let byRules = view.rfm(), explicit = view.rfm(thresholds: LifetimeThresholds(newDays: 10, activeDays: 20, lostDays: 50))
        #expect(byRules.stages.map(\.stage) == explicit.stages.map(\.stage))
        #expect(byRules.stages.map(\.stage) != view.rfm(thresholds: LifetimeThresholds()).stages.map(\.stage))
        let replayed = try LedgerView(directory: dir.path, useSnapshots: false)
        #expect(replayed.state.rules == view.state.rules)
    }
}
