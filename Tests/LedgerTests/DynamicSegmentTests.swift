import Testing
@testable import Ledger
@testable import LedgerDomain
import LedgerGenerator

/// Dynamic membership (domain.md §6): transitions recorded in the cause's batch, naming it;
/// time-based segments moved by the advance step; each transition recorded once.
@Suite("Dynamic segments")
struct DynamicSegmentTests {
    /// The segment transitions the ledger recorded, in order: (position, client, segment, entered, cause, derived).
    static func transitions(_ dir: String) throws -> [(position: UInt64, client: String, segment: String, entered: Bool, cause: UInt64?, derived: Bool)] {
        try JournalTests.everything(dir).compactMap { e in
            switch e.event {
            case .segmentEntered(let t): (e.position, e.client, t.segment, true, t.cause, e.derived)
            case .segmentLeft(let t): (e.position, e.client, t.segment, false, t.cause, e.derived)
            default: nil
            }
        }
    }

    @Test("a definition records its first members; a purchase and a return move a client in and out in their own batch, naming themselves; nothing else records a transition")
    func transitionsNameTheirCause() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let t = Time.parse("2025-03-01T10:00:00Z")!
        func at(_ minutes: Int64) -> String { Time.iso(t + minutes * 60_000_000) }
        let setUp = try ledger.submit(commands([
            #"{"type":"client.registered","at":"\#(at(0))","client":"c1","phone":"79160000001"}"#,
            #"{"type":"client.registered","at":"\#(at(0))","client":"c2","phone":"79160000002"}"#,
            #"{"type":"purchase.made","at":"\#(at(1))","client":"c1","purchase":"p1","total":600000}"#,
            #"{"type":"segment.defined","at":"\#(at(2))","name":"Big","filters":[{"field":"purchaseSum","op":"gte","values":[500000]},{"field":"returnCount","op":"eq","values":[0]}]}"#,
        ]))
        guard case .accepted(let definition) = setUp[3] else { Issue.record("\(setUp[3])"); return }
        let later = try ledger.submit(commands([
            #"{"type":"purchase.made","at":"\#(at(3))","client":"c2","purchase":"p2","total":700000}"#,
            #"{"type":"note.added","at":"\#(at(4))","client":"c2","text":"called"}"#,
            #"{"type":"purchase.made","at":"\#(at(5))","client":"c2","purchase":"p3","total":1000}"#,
            #"{"type":"purchase.returned","at":"\#(at(6))","client":"c2","purchase":"p2","return":"r1","amount":700000}"#,
        ]))
        guard case .accepted(let purchase) = later[0], case .accepted(let returned) = later[3] else { Issue.record("\(later)"); return }
        #expect(ledger.client(id: "c1")?.segments == ["Big"] && ledger.client(id: "c2")?.segments == [])
        try ledger.close()
        let all = try Self.transitions(dir.path)
        #expect(all.count == 3, "\(all)")
        // The first member, in the definition's batch, naming it.
        #expect(all[0].client == "c1" && all[0].entered && all[0].cause == definition.lowerBound && definition.contains(all[0].position) && all[0].derived)
        // c2 enters with its purchase (the last event of that command) and leaves with its return.
        #expect(all[1].client == "c2" && all[1].entered && all[1].cause == purchase.lowerBound && all[1].position == purchase.upperBound)
        #expect(all[2].client == "c2" && !all[2].entered && all[2].cause == returned.lowerBound && all[2].position == returned.upperBound)
        // The journal says why, in words.
        let view = try LedgerView(directory: dir.path)
        var query = JournalQuery()
        query.client = "c2"
        query.types = ["segment.left"]
        query.language = .english
        let row = try #require(try view.journal(query).rows.first)
        #expect(row.description == "Left segment \"Big\" (caused by event #\(returned.lowerBound))" && row.details["cause"] == .integer(Int64(returned.lowerBound)))
        // The journal's segment filter reads the recorded membership: c1's rows only (c2 left).
        var bySegment = JournalQuery()
        bySegment.segment = "Big"
        let rows = try view.journal(bySegment).rows
        #expect(!rows.isEmpty && rows.allSatisfy { $0.client?.rawValue == "c1" })
    }

    @Test("a time-based segment moves with advance (once per change, however often advance runs); redefining and deleting move its members out")
    func timeAndDefinitions() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let t = Time.parse("2025-03-01T10:00:00Z")!, day = Time.microsPerDay
        _ = try ledger.submit(commands([
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c1","phone":"79160000001"}"#,
            #"{"type":"purchase.made","at":"2025-03-01T10:01:00Z","client":"c1","purchase":"p1","total":100000}"#,
            #"{"type":"segment.defined","at":"2025-03-01T10:02:00Z","name":"Sleeping","filters":[{"field":"daysWithoutPurchases","op":"gte","values":[30]}]}"#,
        ]))
        #expect(try Self.transitions(dir.path).isEmpty)
        for d in [10, 29, 30, 30, 31, 45] as [Int64] { _ = try ledger.advance(to: t + d * day, beyondClock: true) }
        var all = try Self.transitions(dir.path)
        #expect(all.count == 1 && all[0].entered && all[0].cause == nil && !all[0].derived, "\(all)")
        #expect(ledger.client(id: "c1")?.segments == ["Sleeping"])
        // A purchase wakes the client: it leaves in the purchase's batch.
        _ = try ledger.submit(commands([#"{"type":"purchase.made","at":"\#(Time.iso(t + 46 * day))","client":"c1","purchase":"p2","total":100000}"#]))
        _ = try ledger.advance(to: t + 47 * day, beyondClock: true)
        all = try Self.transitions(dir.path)
        #expect(all.count == 2 && !all[1].entered && all[1].derived)
        _ = try ledger.advance(to: t + 80 * day, beyondClock: true)
        #expect(try Self.transitions(dir.path).count == 3)
        // Redefined so that nobody is in it: the member leaves; deleted: nothing is left to leave.
        _ = try ledger.submit(commands([#"{"type":"segment.defined","at":"\#(Time.iso(t + 80 * day + 1))","name":"Sleeping","filters":[{"field":"daysWithoutPurchases","op":"gte","values":[300]}]}"#]))
        #expect(try Self.transitions(dir.path).last.map { !$0.entered } == true && ledger.client(id: "c1")?.segments == [])
        _ = try ledger.submit(commands([#"{"type":"segment.defined","at":"\#(Time.iso(t + 80 * day + 2))","name":"Sleeping","filters":[{"field":"daysWithoutPurchases","op":"gte","values":[3]}]}"#]))
        #expect(ledger.client(id: "c1")?.segments == ["Sleeping"])
        _ = try ledger.submit(commands([#"{"type":"segment.deleted","at":"\#(Time.iso(t + 80 * day + 3))","name":"Sleeping"}"#]))
        #expect(ledger.client(id: "c1")?.segments == [])
        #expect(try Self.transitions(dir.path).count == 6)
        try ledger.close()
    }

    @Test("a definition moves only its segment and those reading it through memberOf: a later definition does not move another time-based segment")
    func definitionMovesItsOwn() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let t = Time.parse("2025-03-01T10:00:00Z")!, day = Time.microsPerDay
        _ = try ledger.submit(commands([
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c1","phone":"79160000001","gender":"female"}"#,
            #"{"type":"purchase.made","at":"2025-03-01T10:01:00Z","client":"c1","purchase":"p1","total":100000}"#,
            #"{"type":"segment.defined","at":"2025-03-01T10:02:00Z","name":"Sleeping","filters":[{"field":"daysWithoutPurchases","op":"gte","values":[30]}]}"#,
            #"{"type":"segment.defined","at":"2025-03-01T10:03:00Z","name":"Women asleep","filters":[{"field":"memberOf","op":"in","values":["Sleeping"]},{"field":"memberOf","op":"in","values":["Women"]}]}"#,
        ]))
        // Forty days later, before any advance step: defining Women moves Women and the segment
        // reading it, evaluated as of that day, but not Sleeping, which the next advance moves.
        let women = try ledger.submit(commands([
            #"{"type":"segment.defined","at":"\#(Time.iso(t + 40 * day))","name":"Women","filters":[{"field":"gender","op":"in","values":["female"]}]}"#,
        ]))
        guard case .accepted(let definition) = women[0] else { Issue.record("\(women)"); return }
        var all = try Self.transitions(dir.path)
        #expect(all.map(\.segment).sorted() == ["Women", "Women asleep"] && all.allSatisfy { $0.entered && $0.cause == definition.lowerBound }, "\(all)")
        _ = try ledger.advance(to: t + 41 * day, beyondClock: true)
        all = try Self.transitions(dir.path)
        #expect(all.count == 3 && all[2].segment == "Sleeping" && all[2].entered && all[2].cause == nil, "\(all)")
        // Deleting Women: Women asleep, which reads it, is evaluated again (Women is now nobody's).
        _ = try ledger.submit(commands([#"{"type":"segment.deleted","at":"\#(Time.iso(t + 41 * day + 1))","name":"Women"}"#]))
        #expect(ledger.client(id: "c1")?.segments == ["Sleeping"])
        try ledger.close()
    }

    @Test("a contains filter kept up to date finds the names purchases add after its definition (its names are resolved as the table grows)")
    func containsFollowsNewNames() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        func item(_ sku: String, _ name: String) -> String { #"{"sku":"\#(sku)","name":"\#(name)","category":"Обувь","qty":1,"price":1000}"# }
        _ = try ledger.submit(commands([
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c1","phone":"79160000001"}"#,
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c2","phone":"79160000002"}"#,
            #"{"type":"purchase.made","at":"2025-03-01T10:01:00Z","client":"c1","purchase":"p1","total":1000,"items":[\#(item("A1", "Кроссовки беговые"))]}"#,
            #"{"type":"segment.defined","at":"2025-03-01T10:02:00Z","name":"Runners","filters":[{"field":"boughtProduct","op":"contains","values":["КРОСС"]}]}"#,
        ]))
        #expect(ledger.client(id: "c1")?.segments == ["Runners"] && ledger.client(id: "c2")?.segments == [])
        // A name first seen now, then one that does not match: only the first moves c2.
        _ = try ledger.submit(commands([#"{"type":"purchase.made","at":"2025-03-02T10:00:00Z","client":"c2","purchase":"p2","total":1000,"items":[\#(item("B7", "Сандалии"))]}"#]))
        #expect(ledger.client(id: "c2")?.segments == [])
        _ = try ledger.submit(commands([#"{"type":"purchase.made","at":"2025-03-03T10:00:00Z","client":"c2","purchase":"p3","total":1000,"items":[\#(item("C9", "кроссовки детские"))]}"#]))
        #expect(ledger.client(id: "c2")?.segments == ["Runners"])
        try ledger.close()
        // The recorded membership is what an evaluation finds, and a replay reads it back.
        let view = try LedgerView(directory: dir.path, useSnapshots: false)
        #expect(try view.segmentMembers("Runners").clients.map(\.rawValue).sorted() == ["c1", "c2"])
        #expect(view.state.members(ofSegment: "Runners")?.sorted() == ["c1", "c2"])
    }

    @Test("a command dated before the latest advance step is evaluated as of the ledger's today, so a time-based segment does not flap")
    func noFlapping() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let t = Time.parse("2025-03-01T10:00:00Z")!, day = Time.microsPerDay
        _ = try ledger.submit(commands([
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c1","phone":"79160000001"}"#,
            #"{"type":"segment.defined","at":"2025-03-01T10:01:00Z","name":"Month one","filters":[{"field":"daysInProgram","op":"between","values":[30,35]}]}"#,
        ]))
        // Day 40: past the window, never in it, nothing recorded (the latest event stays on day 0).
        _ = try ledger.advance(to: t + 40 * day, beyondClock: true)
        // A profile change dated day 32 (after the latest event, before the advance step's day).
        let changed = try ledger.submit(commands([#"{"type":"client.profile_changed","at":"\#(Time.iso(t + 32 * day))","client":"c1","name":"Анна"}"#]))
        #expect(changed[0].isAccepted, "\(changed)")
        _ = try ledger.advance(to: t + 41 * day, beyondClock: true)
        try ledger.close()
        let recorded = try Self.transitions(dir.path)
        #expect(recorded.isEmpty, "\(recorded)")
    }

    @Test("property: over a generated program with dynamic segments, the recorded membership is the evaluation, transitions alternate, and a replay and a rebuild agree",
          arguments: [31, 32] as [UInt64])
    func generatedProgram(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let all = SnapshotTests.days(clients: 200, days: 90, seed: seed)
        let definitions: [(String, String)] = [
            ("Spenders", #"[{"field":"purchaseSum","op":"gte","values":[3000000]}]"#),
            ("Sleeping", #"[{"field":"daysWithoutPurchases","op":"gte","values":[20]},{"field":"status","op":"in","values":["participant"]}]"#),
            ("Rich", #"[{"field":"bonusesAvailable","op":"gte","values":[50000]}]"#),
            ("Women with Wallet", #"[{"field":"gender","op":"in","values":["female"]},{"field":"walletInstalled","op":"eq","values":[true]}]"#),
            ("Sleeping spenders", #"[{"field":"memberOf","op":"in","values":["Sleeping"]},{"field":"memberOf","op":"in","values":["Spenders"]}]"#),
        ]
        for (k, day) in all.enumerated() {
            _ = try ledger.submit(commands(day.lines))
            if k == 20 {
                let t = ledger.read { $0.lastEventAt }
                _ = try ledger.submit(definitions.map { Command(at: t, client: "", event: .segmentDefined(SegmentDefinition(name: $0.0, filters: $0.1))) })
            }
            _ = try ledger.advance(to: day.advanceTo)
        }
        let asOf = ledger.read { $0.advancedTo }
        let recorded = ledger.read { state in Dictionary(uniqueKeysWithValues: definitions.map { ($0.0, state.members(ofSegment: $0.0) ?? []) }) }
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        for (name, _) in definitions {
            let evaluated = Set(try view.segmentMembers(name, at: Timestamp(microsecondsSince1970: asOf)).clients.map(\.rawValue))
            #expect(recorded[name] == evaluated, "\(name): recorded \(recorded[name]?.count ?? 0), evaluated \(evaluated.count)")
            #expect(!evaluated.isEmpty, "\(name) selects nobody")
        }
        // Exactly once: per client and segment, entered and left alternate, starting with entered.
        var inside: [String: Bool] = [:]
        let transitions = try Self.transitions(dir.path)
        #expect(transitions.count > 50)
        for t in transitions {
            let key = t.client + "/" + t.segment
            #expect(inside[key, default: false] != t.entered, "\(key) \(t.entered ? "entered" : "left") twice in a row at \(t.position)")
            inside[key] = t.entered
        }
        // A replay of the log and a rebuild under its own rules reach the same membership.
        let replayed = try LedgerView(directory: dir.path, useSnapshots: false)
        for (name, _) in definitions { #expect(replayed.state.members(ofSegment: name) ?? [] == recorded[name]) }
        let decided = try Rebuild.decide(directory: dir.path, partition: 0, of: 1, end: view.position, rules: nil) { _ in }
        for i in 0..<view.state.records.count { #expect(fingerprint(decided.state.clientState(i)) == fingerprint(view.state.clientState(i))) }
    }
}
