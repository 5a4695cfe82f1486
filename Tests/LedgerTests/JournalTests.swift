import Testing
@testable import Ledger
@testable import LedgerDomain
import LedgerGenerator
import LedgerLog

/// The journal against a brute-force reading of the whole log, written here independently:
/// every event decoded, each filter applied by its definition (domain.md §7).
@Suite("The journal")
struct JournalTests {
    /// One decoded event of the log.
    struct Event {
        var position: UInt64
        var at: Micros
        var client: String
        var event: DomainEvent
        var derived = false
        var category: Category {
            if case .operationRefused(let r) = event { return EventKind.byName[r.operation]!.category }
            return event.kind.category
        }
    }

    /// The generator's id of client `i`.
    static func id(_ i: Int) -> String { "c" + String(repeating: "0", count: max(0, 7 - String(i).count)) + String(i) }

    static func everything(_ dir: String) throws -> [Event] {
        var all: [Event] = []
        _ = try LogReader(directory: Ledger.logDirectory(dir)).scan { record in
            let decoded = try EventCodec.decode(typeCode: record.typeCode, record.body)
            all.append(Event(position: record.position, at: record.timestamp, client: record.streamKeyString, event: decoded.event, derived: decoded.derived))
            return true
        }
        return all
    }

    /// The brute-force answer: every matching position, oldest first.
    static func expected(_ q: JournalQuery, _ all: [Event], holderOfPhone: String?, members: Set<String>?) -> [UInt64] {
        all.filter { e in
            if let client = q.client, e.client != client.rawValue { return false }
            if q.phone != nil, e.client != holderOfPhone { return false }
            if let members, !members.contains(e.client) { return false }
            if !q.categories.isEmpty, !q.categories.contains(e.category) { return false }
            if !q.types.isEmpty, !q.types.contains(e.event.kind.name) { return false }
            if q.name != nil || !q.context.isEmpty {
                let named: NamedEvent
                switch e.event {
                case .custom(let n), .system(let n): named = n
                default: return false
                }
                if let name = q.name, named.name != name { return false }
                for wanted in q.context where !named.context.contains(where: { $0.0 == wanted.key && $0.1.text == wanted.value }) { return false }
            }
            if let from = q.from, e.at < from.microsecondsSince1970 { return false }
            if let to = q.to, e.at > to.microsecondsSince1970 { return false }
            return true
        }.map(\.position)
    }

    /// Every page of `query`, following the cursors; the positions in the order given.
    static func allPages(_ query: JournalQuery, _ journal: (JournalQuery) throws -> JournalPage) throws -> [UInt64] {
        var q = query
        var positions: [UInt64] = []
        var pages = 0
        while true {
            let page = try journal(q)
            positions += page.rows.map(\.position)
            pages += 1
            #expect(page.rows.count <= q.limit)
            guard let next = page.next else { break }
            #expect(page.rows.count == q.limit, "a page with a next is full")
            q.cursor = next
            if pages > 100_000 { Issue.record("paging does not end"); break }
        }
        return positions
    }

    @Test("property: every filter alone and combined, both orders, every page size, equals a brute-force reading of the log", arguments: [11, 12])
    func againstBruteForce(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(ledger, SnapshotTests.days(clients: 200, days: 90, seed: seed)[...])
        // The view opens from this snapshot (its indexes used where they lie in the mapping) and
        // applies what follows on top of them.
        try ledger.writeSnapshot()
        // A few segment members, custom events with context, and a refused operation of each category.
        let t = ledger.read { $0.lastEventAt } + 1
        let planted = try ledger.submit([
            Command(at: t, client: Self.id(0), event: .segmentAssigned("VIP")), Command(at: t, client: Self.id(1), event: .segmentAssigned("VIP")),
            Command(at: t, client: Self.id(1), event: .custom(NamedEvent(name: "call_center", context: [("operator", .string("Азбука")), ("minutes", .number(4))]))),
            Command(at: t, client: Self.id(2), event: .custom(NamedEvent(name: "call_center", context: [("operator", .string("Бета"))]))),
            Command(at: t, client: Self.id(1), event: .bonusWrittenOff(WriteOff(amount: AmountLimits.amountMax, reason: .manual))),
        ])
        #expect(planted.prefix(4).allSatisfy { $0.isAccepted })
        if case .refused(_, _, let recorded) = planted[4] { #expect(recorded != nil, "the refusal is journaled") } else { Issue.record("\(planted[4])") }
        let end = ledger.position
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        #expect(view.startSnapshot.map { $0.position < end } == true, "the view starts from the snapshot before the planted events")
        let all = try Self.everything(dir.path)
        #expect(all.count > 1000)
        var random = SeededRandom(state: seed)
        func pick(_ bound: Int) -> Int { Int.random(in: 0..<bound, using: &random) }
        let phoneOf = { (id: String) in view.client(id: id)?.phone }
        let days = Set(all.map { Time.day(of: $0.at) }).sorted()
        for round in 0..<40 {
            var q = JournalQuery()
            q.limit = [7, 50, 10_000][pick(3)]
            q.order = pick(2) == 0 ? .newestFirst : .oldestFirst
            let client = Self.id(pick(12))
            switch pick(4) {
            case 0: q.client = ClientID(client); q.limit = [1, 2, 7][pick(3)]   // small pages where the rows are few
            case 1: q.phone = phoneOf(client).map { "+" + $0 }
            case 2: q.segment = "VIP"
            default: break
            }
            if pick(2) == 0 { q.categories = Set((0..<1 + pick(2)).map { _ in Category.allCases[pick(Category.allCases.count)] }) }
            if pick(4) == 0 { q.types = [["bonus.accrued", "purchase.made", "operation.refused", "bonus.activated", "mailing.sent"][pick(5)]] }
            if pick(6) == 0 { q.name = "call_center" }
            if pick(6) == 0 { q.context = [.init(key: "operator", value: "Азбука")] }
            if pick(3) == 0 {
                let a = days[pick(days.count)], b = days[pick(days.count)]
                q.from = Timestamp(microsecondsSince1970: min(a, b) * Time.microsPerDay)
                q.to = Timestamp(microsecondsSince1970: (max(a, b) + 1) * Time.microsPerDay - 1)
            }
            let holder = q.phone.flatMap { Phone.normalize($0) }.flatMap { p in view.state.holder(ofPhone: p).map { view.state.clientID(Int($0)) } }
            let members = q.segment.flatMap { view.state.members(ofSegment: $0) }
            var want = Self.expected(q, all, holderOfPhone: holder, members: members)
            if q.order == .newestFirst { want.reverse() }
            let got = try Self.allPages(q) { try view.journal($0) }
            #expect(got == want, "round \(round): \(q)")
        }
        // The rows say what the log holds: each row's type, time, client and category.
        let rows = try view.journal({ var q = JournalQuery(); q.limit = 10_000; q.order = .oldestFirst; return q }()).rows
        for (row, e) in zip(rows, all) {
            #expect(row.position == e.position && row.at.microsecondsSince1970 == e.at && row.type == e.event.kind.name && row.category == e.category)
            #expect(row.client?.rawValue == (e.client.isEmpty ? nil : e.client) && row.description == e.event.describe(.russian))
        }
    }

    @Test("paging beside concurrent appends never repeats or skips a row: newest first holds still, oldest first takes in the new")
    func pagingBesideAppends() async throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let t0 = Time.parse("2025-03-01T10:00:00Z")!
        _ = try await ledger.submit([Command(at: t0, client: "c1", event: .clientRegistered(Registration(phone: "79160000001")))])
        _ = try await ledger.submit((1...200).map { Command(at: t0 + Int64($0), client: "c1", event: .noteAdded("n\($0)")) })
        let before = ledger.position
        let writer = Task.detached {
            for k in 0..<50 { _ = try await ledger.submit([Command(at: t0 + 1_000 + Int64(k), client: "c1", event: .noteAdded("late \(k)"))]) }
        }
        var q = JournalQuery()
        q.client = "c1"
        q.limit = 7
        let newest = try Self.allPages(q) { query in try ledger.journal(query) }
        try await writer.value
        // Newest first began wherever the log stood; every page after it is older, so the rows are
        // the positions from that point down to 0, each once.
        #expect(newest.count == Set(newest).count && newest == newest.sorted(by: >))
        #expect(newest.last == 0 && newest.count == Int(newest.first! + 1) && newest.first! >= before - 1)
        q.order = .oldestFirst
        let oldest = try Self.allPages(q) { query in try ledger.journal(query) }
        #expect(oldest == Array(0..<ledger.position))
        try ledger.close()
    }

    @Test("a bad query names what is wrong: an unknown type, a cursor of the other order, a limit out of range, a period backwards")
    func badQueries() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        var q = JournalQuery()
        q.types = ["bonus.acrued"]
        #expect(throws: JournalError.self) { try ledger.journal(q) }
        do { _ = try ledger.journal(q) } catch { #expect(error.message.contains("bonus.acrued")) }
        q = JournalQuery()
        q.cursor = JournalCursor("j1a5")
        #expect(throws: JournalError.self) { try ledger.journal(q) }
        q = JournalQuery()
        q.limit = 0
        #expect(throws: JournalError.self) { try ledger.journal(q) }
        q = JournalQuery()
        q.from = Timestamp(year: 2025, month: 3, day: 2)
        q.to = Timestamp(year: 2025, month: 3, day: 1)
        #expect(throws: JournalError.self) { try ledger.journal(q) }
        q = JournalQuery()
        q.segment = "nobody's"
        #expect(throws: JournalError.self) { try ledger.journal(q) }
        // A cursor at the last position there can be ends the paging, it does not start over.
        var last = JournalQuery()
        last.order = .oldestFirst
        last.cursor = JournalCursor(order: .oldestFirst, position: .max)
        #expect(try ledger.journal(last) == JournalPage(rows: [], next: nil))
        #expect(JournalCursor("garbage") == nil && JournalCursor("j1x1") == nil && JournalCursor(JournalCursor(order: .newestFirst, position: 99).text)?.position == 99)
        try ledger.close()
    }
}

@Suite("Dry runs")
struct DryRunTests {
    @Test("a dry run shows exactly the events a submit then records, sees its own earlier lines, and changes nothing")
    func sameAsSubmit() async throws {
        let dir = TemporaryDirectory()
        var configuration = SnapshotTests.options
        let now = Time.parse("2025-03-20T10:00:00Z")!
        configuration.clock = { now }
        let ledger = try Ledger(directory: dir.path, configuration: configuration)
        try SnapshotTests.run(ledger, SnapshotTests.days(clients: 60, days: 40, seed: 3)[...])
        let client = JournalTests.id(5)
        let commands: [Command] = [
            .accrue(client: ClientID(client), Bonus(30), comment: "жалоба"),
            .writeOff(client: ClientID(client), Bonus(40), comment: "сверх остатка?"),
            .writeOff(client: ClientID(client), Bonus(1_000_000)),
        ]
        let before = ledger.position
        var dry = ledger.dryRun()
        let results = try dry.run(commands)
        #expect(ledger.position == before, "nothing appended")
        #expect(results[2].outcome.isAccepted == false)
        let outcomes = try await ledger.submit(commands)
        #expect(outcomes == results.map(\.outcome))
        var recorded: [EventRecord] = []
        _ = try ledger.logReader().scan(from: before) { record in
            let decoded = try EventCodec.decode(typeCode: record.typeCode, record.body)
            recorded.append(EventRecord(position: record.position, at: record.timestamp, client: record.streamKeyString,
                                        idempotencyKey: record.idempotencyKeyString, derived: decoded.derived, event: decoded.event))
            return true
        }
        let shown = results.flatMap(\.events).map { e -> EventRecord in var e = e; e.clientNumber = nil; return e }
        #expect(shown == recorded)
        try ledger.close()
    }
}

@Suite("Time travel")
struct AsOfTests {
    @Test("a card as of a time or a position equals the card of a ledger that stopped there, client by client", arguments: [9, 23])
    func cardAsOf(cutDay: Int) throws {
        let days = SnapshotTests.days(clients: 80, days: 40, seed: 21)
        let whole = TemporaryDirectory(), cut = TemporaryDirectory()
        let full = try Ledger(directory: whole.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(full, days[...])
        try full.writeSnapshot()   // past the cut: a view as of the cut must not start from it
        try full.close()
        let stopped = try Ledger(directory: cut.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(stopped, days[..<cutDay])
        let position = stopped.position
        let lastAt = Timestamp(microsecondsSince1970: stopped.read { $0.lastEventAt })
        let byPosition = try LedgerView(directory: whole.path, asOf: .position(position))
        let byTime = try LedgerView(directory: whole.path, asOf: .time(lastAt))
        #expect(byPosition.startSnapshot == nil && byPosition.position == position && byTime.position == position)
        for k in 0..<80 {
            let id = JournalTests.id(k)
            let expected = stopped.client(id: id)
            #expect(byPosition.client(id: id) == expected && byTime.client(id: id) == expected, "client \(id) as of day \(cutDay)")
        }
        #expect(try LedgerView(directory: whole.path, asOf: .position(0)).client(id: JournalTests.id(0)) == nil)
        // As of the end (or past it), the snapshot there is used.
        #expect(try LedgerView(directory: whole.path, asOf: .position(.max)).startSnapshot != nil)
        try stopped.close()
    }
}

@Suite("Audit replay")
struct AuditReplayTests {
    @Test("a replay's balances after each step equal the card as of that step, and its end the card's")
    func equalsTheCard() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(ledger, SnapshotTests.days(clients: 40, days: 60, seed: 31)[...])
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        for k in [0, 7, 19] {
            let id = ClientID(JournalTests.id(k))
            let replay = try #require(try view.replay(client: id))
            #expect(replay.balances == view.client(id: id.rawValue)?.balances)
            #expect(replay.steps.count == Int(view.client(id: id.rawValue)?.eventCount ?? -1))
            for step in replay.steps.enumerated().filter({ $0.offset % 5 == 0 }).map(\.element) {
                let then = try LedgerView(directory: dir.path, asOf: .position(step.position + 1))
                #expect(then.client(id: id.rawValue)?.balances == step.balances, "\(id) at \(step.position)")
            }
        }
    }

    @Test("a replay fed only the client's events gives, at every step of every client, the balances a replay of the whole log gives", arguments: [41, 42])
    func aloneEqualsWhole(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(ledger, SnapshotTests.days(clients: 60, days: 70, seed: seed)[...])
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        // The reference: the whole log into one state, each client's balances taken after each
        // of its events.
        var state = LedgerState(rebuilding: true, keepsKeyBytes: false)
        var expected: [String: [(UInt64, ClientCard.Balances)]] = [:]
        _ = try LogReader(snapshot: view.snapshot).scan { record in
            _ = try state.replay(position: record.position, at: record.timestamp, typeCode: record.typeCode,
                                 client: record.streamKey, key: record.idempotencyKey, body: record.body)
            let id = String(decoding: record.streamKey, as: UTF8.self)
            if let index = state.clientIndex(id) {
                expected[id, default: []].append((record.position, ClientCard.Balances(state.clientState(Int(index)).balances)))
            }
            return true
        }
        #expect(expected.count == 60)
        for (id, steps) in expected {
            let replay = try #require(try view.replay(client: ClientID(id)))
            #expect(replay.steps.map(\.position) == steps.map(\.0), "\(id)'s events")
            #expect(replay.steps.map(\.balances) == steps.map(\.1), "\(id)'s balances")
            // As of a past position, the same steps up to there.
            let middle = steps[steps.count / 2].0
            let past = try #require(try LedgerView(directory: dir.path, asOf: .position(middle + 1)).replay(client: ClientID(id)))
            #expect(past.steps.map(\.balances) == steps.prefix { $0.0 <= middle }.map(\.1), "\(id) as of \(middle)")
        }
        #expect(try view.replay(client: "nobody") == nil)
    }

    @Test("the notes explain: refused while blocked, pending until a date, cancelled by a return, a duplicate birthday bonus, a Wallet install no rule rewards")
    func notes() async throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        let t = Timestamp("2025-03-01T10:00:00Z")!
        func at(_ hours: Int64) -> Timestamp { t + .seconds(hours * 3600) }
        _ = try await ledger.submit([
            .register(client: "c1", Registration(phone: "79160000001"), at: at(0)),
            .purchase(client: "c1", Purchase(id: "p1", total: Money(1000)), at: at(1)),
            .return(client: "c1", PurchaseReturn(purchase: "p1", id: "r1", refund: Money(500)), at: at(2)),
            .accrue(client: "c1", Bonus(10), reason: .birthday, at: at(3)),
            .accrue(client: "c1", Bonus(10), reason: .birthday, at: at(4)),
            .event(.walletInstalled(.apple), client: "c1", at: at(5)),
            .block(client: "c1", at: at(6)),
            .accrue(client: "c1", Bonus(5), at: at(7)),
        ])
        let replay = try #require(try ledger.replay(client: "c1", language: .english))
        let notes = replay.steps.flatMap(\.notes).joined(separator: "\n")
        for expected in ["still pending: active from 2025-03-15", "cancelled by return r1 of purchase p1", "suspected duplicate: a second birthday bonus in 2025",
                         "no bonus: no rule gives one for installing the Wallet card", "not done: the client is blocked at the time"] {
            #expect(notes.contains(expected), "missing '\(expected)' in:\n\(notes)")
        }
        #expect(replay.balances == ledger.client(id: "c1")?.balances)
        // As of before the block, the accrual is not there yet.
        let before = try #require(try ledger.replay(client: "c1", asOf: .time(at(6) - .seconds(1))))
        #expect(!before.steps.contains { $0.type == "client.blocked" })
        try ledger.close()
    }
}
