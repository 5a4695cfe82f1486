import Foundation
import Testing
@testable import Ledger
@testable import LedgerDomain
import LedgerGenerator

/// Rule-change rebuilds: the same computation as the live ledger's under its own rules, and
/// the differences other rules make, checked against what they must be.
@Suite("Rebuilds")
struct RebuildTests {
    /// A generated program with the operations the generator does not make added on its days:
    /// a manual accrual corrected, a level set by hand, a rules change, a refused write-off,
    /// an order reserved and cancelled, an operator's birthday bonus.
    static func program(_ dir: String, clients: Int, days: Int, seed: UInt64) throws {
        let ledger = try Ledger(directory: dir, configuration: SnapshotTests.options)
        let all = SnapshotTests.days(clients: clients, days: days, seed: seed)
        for (d, day) in all.enumerated() {
            _ = try ledger.submit(commands(day.lines))
            let t = ledger.read { $0.lastEventAt } + 1
            // A client who can spend: not blocked or deleted, with bonuses.
            let someone = ledger.read { state in
                (0..<state.records.count).first { state.records[$0].balances.available >= 10_000 && !state.records[$0].blocked && !state.records[$0].deleted }.map(state.clientID)
            }
            if let someone {
                switch d {
                case 20:
                    let outcomes = try ledger.submit([Command(at: t, client: someone, event: .bonusAccrued(Accrual(amount: 50_000, reason: .manual, source: nil)))])
                    if case .accepted(let range) = outcomes[0] { _ = try ledger.submit([Command(at: t + 1, client: someone, .correct(lot: range.lowerBound, comment: "ошибка"))]) }
                case 30: _ = try ledger.submit([Command(at: t, client: someone, .setLevel("Gold"))])
                case 40:
                    var patch = RulesPatch()
                    patch.lifetimeDays = 30
                    patch.birthdayBonus = 15_000
                    _ = try ledger.submit([Command(at: t, client: "", .changeRules(patch))])
                case 50: _ = try ledger.submit([Command(at: t, client: someone, event: .bonusWrittenOff(WriteOff(amount: 1_000_000_000, reason: .manual)))])
                case 55:
                    _ = try ledger.submit([Command(at: t, client: someone, event: .bonusReserved(Reservation(order: "o-\(seed)", amount: 100))),
                                           Command(at: t + 1, client: someone, event: .orderCancelled(OrderEvent(order: "o-\(seed)", amount: nil)))])
                case 60:
                    // An operator's birthday bonus: a command, not the advance step's.
                    _ = try ledger.submit([Command(at: t, client: someone, event: .bonusAccrued(Accrual(amount: 20_000, reason: .birthday, source: nil,
                                                                                                     comment: "с днём рождения", operatorName: "op-1")))])
                default: break
                }
            }
            _ = try ledger.advance(to: day.advanceTo)
        }
        try ledger.close()
    }

    @Test("under the log's own rules, one worker rebuilds every client exactly as the live ledger has it, and two workers report no difference either",
          arguments: [21, 22] as [UInt64])
    func unchangedRules(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        try Self.program(dir.path, clients: 250, days: 120, seed: seed)
        let view = try LedgerView(directory: dir.path)
        let kinds = Set(try JournalTests.everything(dir.path).map(\.event.kind))
        for kind in [EventKind.bonusCancelled, .levelChanged, .rulesChanged, .operationRefused, .bonusExpired, .purchaseReturned, .orderCancelled] {
            #expect(kinds.contains(kind), "the program has no \(kind.name)")
        }
        // One worker: the whole state, client by client, and the positions of every lot.
        let decided = try Rebuild.decide(directory: dir.path, partition: 0, of: 1, end: view.position, rules: nil) { _ in }
        #expect(decided.newlyRefused.isEmpty, "\(decided.newlyRefused.prefix(3))")
        #expect(decided.state.records.count == view.state.records.count && decided.state.nextPosition == view.state.nextPosition)
        for i in 0..<view.state.records.count {
            let (live, rebuilt) = (view.state.clientState(i), decided.state.clientState(i))
            #expect(fingerprint(live) == fingerprint(rebuilt), "client \(live.id)")
        }
        #expect(decided.state.totals == view.state.totals && decided.state.rules == view.state.rules)
        for workers in [1, 2] {
            let report = try Rebuild.run(view, directory: dir.path, options: .init(workers: workers))
            #expect(report.isEmpty, "\(workers) worker(s): \(report.contractJSON.text.prefix(600))")
            #expect(report.events == view.position && report.commands > 1_000)
        }
    }

    @Test("a shorter bonus lifetime: one worker and two report the same; bonuses burn earlier, never later; refusals it causes are named")
    func shorterLifetime() throws {
        let dir = TemporaryDirectory()
        try Self.program(dir.path, clients: 200, days: 150, seed: 23)
        let view = try LedgerView(directory: dir.path)
        var patch = RulesPatch()
        patch.lifetimeDays = 20
        let one = try Rebuild.run(view, directory: dir.path, options: .init(rules: patch, workers: 1))
        let two = try Rebuild.run(view, directory: dir.path, options: .init(rules: patch, workers: 2))
        #expect(one.balances == two.balances && one.expiries == two.expiries && one.levels == two.levels && one.segments == two.segments)
        #expect(one.refused.map(\.position) == two.refused.map(\.position))
        #expect(!one.balances.isEmpty && one.expiredAfter > one.expiredBefore)
        for change in one.balances {
            let b = change.after
            #expect(b.accrued == b.available + b.pending + b.reserved + b.used + b.expired + b.cancelled, "\(change.client): the balance identity")
            #expect(change.after.expired >= change.before.expired || change.after.accrued != change.before.accrued, "\(change.client)")
        }
        // What burns under 20 days burns no later than 20 days after it activates (14 days
        // after the purchase at most): nothing burns later than 34 days past the last event.
        let horizon = Time.day(of: view.state.lastEventAt) + 35
        for change in one.expiries { #expect(change.after.allSatisfy { $0.day <= horizon }, "\(change.client): \(change.after), horizon \(horizon)") }
        // Refused for want of bonuses, or in consequence (the return of a purchase refused).
        for r in one.refused {
            #expect(view.state.clientIndex(r.client.rawValue) != nil && ["insufficient_balance", "unknown_purchase"].contains { r.reason.hasPrefix($0) }, "\(r)")
        }
        #expect(one.refused.contains { $0.reason.hasPrefix("insufficient_balance") })
    }

    @Test("new level thresholds and a changed segment: who leaves and enters is exactly the difference of the two memberships")
    func levelsAndSegments() throws {
        let dir = TemporaryDirectory()
        try Self.program(dir.path, clients: 200, days: 100, seed: 24)
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let t = ledger.read { $0.lastEventAt } + 1
        _ = try ledger.submit([Command(at: t, client: "", event: .segmentDefined(SegmentDefinition(name: "Often", filters: #"[{"field":"purchaseCount","op":"gte","values":[3]}]"#)))])
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        var patch = RulesPatch()
        patch.levels = [LevelRule(name: "Base", threshold: 0, percentBasisPoints: nil), LevelRule(name: "Silver", threshold: 10_000_000_000, percentBasisPoints: 700)]
        let stricter = try SegmentFilter.parseList(#"[{"field":"purchaseCount","op":"gte","values":[5]}]"#)
        let report = try Rebuild.run(view, directory: dir.path, options: .init(rules: patch, segments: ["Often": stricter, "Women": try SegmentFilter.parseList(#"[{"field":"gender","op":"in","values":["female"]}]"#)]))
        let silverNow = Set(view.state.clients.filter { !$0.deleted && $0.level == "Silver" && !$0.levelManual }.map(\.id))
        #expect(!silverNow.isEmpty)
        #expect(Set(report.levels["Silver"]?.left.map(\.rawValue) ?? []) == silverNow, "nobody reaches Silver at 100 M roubles")
        // The new rules have no Gold: everybody in it leaves, those set there by hand too (their
        // level.set is refused, unknown_level).
        let goldNow = Set(view.state.clients.filter { !$0.deleted && $0.level == "Gold" }.map(\.id))
        #expect(!goldNow.isEmpty)
        #expect(Set(report.levels["Gold"]?.left.map(\.rawValue) ?? []) == goldNow && report.levels["Gold"]?.entered.isEmpty != false, "\(report.levels["Gold"].map { ($0.left, $0.entered) }) \(goldNow)")
        let often = Set(try view.segmentMembers("Often").clients.map(\.rawValue))
        let strict = Set(try view.segmentMembers(filters: stricter).clients.map(\.rawValue))
        // Purchases are facts: the stricter filter's members are the same under the new levels.
        #expect(Set(report.segments["Often"]?.left.map(\.rawValue) ?? []) == often.subtracting(strict) && report.segments["Often"]?.entered.isEmpty != false)
        let women = Set(view.state.clients.filter { !$0.deleted && $0.gender == .female }.map(\.id))
        #expect(Set(report.segments["Women"]?.entered.map(\.rawValue) ?? []) == women)
    }

    @Test("ledger rebuild: --json in interface.md's fields; --apply records the rules and the level transitions, after which a rebuild under the log's rules finds nothing")
    func command() throws {
        let dir = TemporaryDirectory()
        try Self.program(dir.path, clients: 120, days: 80, seed: 25)
        let same = Run(["--data", dir.path, "rebuild", "--json"], stdin: "")
        #expect(same.status == 0, "\(same.stderr)")
        #expect(same.json?["changes"]?["segments"] == .object([]) && same.json?["changes"]?["levels"] == .object([]), "\(same.stdout.prefix(500))")
        #expect(same.json?["events"] != nil && same.json?["clients"] != nil && same.json?["seconds"] != nil)
        writeFile(dir.path + "/rules.json", #"{"levels":[{"name":"Base","threshold":0},{"name":"Gold","threshold":2000000,"percent":10}]}"#)
        let preview = Run(["--data", dir.path, "rebuild", "--rules", dir.path + "/rules.json", "--json"], stdin: "")
        guard case .object(let levels)? = preview.json?["changes"]?["levels"] else { Issue.record("\(preview.stdout) \(preview.stderr)"); return }
        #expect(!levels.isEmpty)
        let before = try LedgerView(directory: dir.path).position
        #expect(try LedgerView(directory: dir.path).position == before, "a rebuild without --apply records nothing")
        let applied = Run(["--data", dir.path, "rebuild", "--rules", dir.path + "/rules.json", "--apply"], stdin: "")
        #expect(applied.status == 0 && applied.stdout.contains("applied:"), "\(applied.stdout) \(applied.stderr)")
        let after = try LedgerView(directory: dir.path)
        #expect(after.position > before && after.state.rules.levels.map(\.name) == ["Base", "Gold"])
        let again = Run(["--data", dir.path, "rebuild", "--json"], stdin: "")
        #expect(again.json?["changes"]?["levels"] == .object([]) && again.json?["changes"]?["balances"] == .array([]), "\(again.stdout.prefix(800))")
        let table = Run(["--data", dir.path, "rebuild"], stdin: "")
        #expect(table.stdout.contains("no difference"), "\(table.stdout)")
        writeFile(dir.path + "/bad.json", #"{"lifetimeDays":-3}"#)
        let bad = Run(["--data", dir.path, "rebuild", "--rules", dir.path + "/bad.json"], stdin: "")
        #expect(bad.status == 2 && bad.stderr.contains("rules.lifetimeDays"), "\(bad.stderr)")
        // A usage error the verb finds shows the verb's usage, and an unknown rule lists the rules.
        #expect(bad.stderr.contains("Usage: ledger rebuild") && bad.stderr.contains("ledger rebuild --help"), "\(bad.stderr)")
        writeFile(dir.path + "/unknown.json", #"{"bonusLifetimeDays":90}"#)
        let unknown = Run(["--data", dir.path, "rebuild", "--rules", dir.path + "/unknown.json"], stdin: "")
        #expect(unknown.status == 2 && unknown.stderr.contains("'rules.bonusLifetimeDays': is not a rule") && unknown.stderr.contains("lifetimeDays,"),
                "\(unknown.stderr)")
        writeFile(dir.path + "/level.json", #"{"levels":[{"name":"Base","threshold":0,"pct":5}]}"#)
        let level = Run(["--data", dir.path, "rebuild", "--rules", dir.path + "/level.json"], stdin: "")
        #expect(level.status == 2 && level.stderr.contains("'rules.levels[0].pct': is not a field of a level (name, threshold, percent)"), "\(level.stderr)")
        writeFile(dir.path + "/segments.json", #"[{"name":"X","filters":[{"field":"shoeSize","op":"eq","values":[1]}]}]"#)
        let badSegment = Run(["--data", dir.path, "rebuild", "--segments", dir.path + "/segments.json"], stdin: "")
        #expect(badSegment.status == 2 && badSegment.stderr.contains("segment 'X'") && badSegment.stderr.contains("shoeSize"), "\(badSegment.stderr)")
    }

    /// What a rebuild under a 10-day bonus lifetime refuses, with one worker and with two.
    static func refusedUnderTenDays(_ dir: String) throws -> [(Int, [RebuildReport.Refused])] {
        let view = try LedgerView(directory: dir)
        var patch = RulesPatch()
        patch.lifetimeDays = 10
        return try [1, 2].map { workers in (workers, try Rebuild.run(view, directory: dir, options: .init(rules: patch, workers: workers)).refused) }
    }

    /// Two client ids the two workers split: the first falls to worker 0, the second to 1.
    static func splitPair() throws -> (String, String) {
        let ids = (0..<100).map { "client-\($0)" }
        func part(_ id: String) -> Int { Array(id.utf8).withUnsafeBytes { Rebuild.partition($0, of: 2) } }
        return (try #require(ids.first { part($0) == 0 }), try #require(ids.first { part($0) == 1 }))
    }

    @Test("a worker advances as far as the live ledger's advance steps ran, seen in the other worker's clients' events too")
    func advanceSeenAcrossWorkers() throws {
        // Two clients the two workers split: only A has an advance event (its purchase's bonuses
        // activating); B's manual bonuses expire under the shorter lifetime before that
        // advance, so B's write-off after it is refused, by one worker and by two.
        let (a, b) = try Self.splitPair()
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let t0 = Time.parse("2025-03-01T10:00:00Z")!, day = Time.microsPerDay
        _ = try ledger.submit([
            Command(at: t0, client: a, event: .clientRegistered(Registration(phone: "79160000001"))),
            Command(at: t0, client: b, event: .clientRegistered(Registration(phone: "79160000002"))),
            Command(at: t0 + 1, client: b, event: .bonusAccrued(Accrual(amount: 10_000, reason: .manual, source: nil))),
            Command(at: t0 + 2, client: a, event: .purchaseMade(Purchase(purchase: "p1", total: 100_000, paid: 100_000))),
        ])
        _ = try ledger.advance(to: t0 + 15 * day, beyondClock: true)
        let spent = try ledger.submit([Command(at: t0 + 15 * day + 1, client: b, event: .bonusWrittenOff(WriteOff(amount: 10_000, reason: .manual)))])
        #expect(spent[0].isAccepted)
        try ledger.close()
        for (workers, refused) in try Self.refusedUnderTenDays(dir.path) {
            #expect(refused.map(\.client.rawValue) == [b], "\(workers) worker(s): \(refused)")
        }
    }

    @Test("every worker dates the advance step's events from the whole log's latest time, as one worker does")
    func latestTimeAcrossWorkers() throws {
        // B's birthday bonus is dated by A's command earlier that day (max(day, latest event)):
        // under a 10-day lifetime it burns at that hour, after A's activation, so B's write-off
        // that morning stands, with one worker and with two.
        let (a, b) = try Self.splitPair()
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        func t(_ s: String) -> Micros { Time.parse(s)! }
        var rules = RulesPatch()
        rules.birthdayBonus = 10_000
        _ = try ledger.submit([
            Command(at: t("2025-03-01T09:00:00Z"), client: "", .changeRules(rules)),
            Command(at: t("2025-03-01T10:00:00Z"), client: a, event: .clientRegistered(Registration(phone: "79160000001"))),
            Command(at: t("2025-03-01T10:00:00Z"), client: b, event: .clientRegistered(Registration(phone: "79160000002", birthday: Time.days(year: 1990, month: 3, day: 5)))),
            Command(at: t("2025-03-01T10:00:01Z"), client: a, event: .purchaseMade(Purchase(purchase: "p1", total: 100_000, paid: 100_000))),
            Command(at: t("2025-03-05T15:00:00Z"), client: a, event: .noteAdded("called")),
        ])
        _ = try ledger.advance(to: t("2025-03-05T23:59:59Z"), beyondClock: true)
        _ = try ledger.advance(to: t("2025-03-15T12:00:00Z"), beyondClock: true)
        let spent = try ledger.submit([Command(at: t("2025-03-15T12:30:00Z"), client: b, event: .bonusWrittenOff(WriteOff(amount: 10_000, reason: .manual)))])
        #expect(spent[0].isAccepted, "\(spent)")
        try ledger.close()
        for (workers, refused) in try Self.refusedUnderTenDays(dir.path) {
            #expect(refused.isEmpty, "\(workers) worker(s): \(refused)")
        }
    }
}
