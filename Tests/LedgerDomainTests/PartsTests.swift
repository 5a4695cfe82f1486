import LedgerStorage
import Testing
import LedgerBytes
@testable import LedgerDomain

/// A part's section bytes.
func sectionBytes<Part: LedgerPart>(_ part: Part) -> [UInt8] {
    var bytes: [UInt8] = []
    let encoder = SectionEncoder { bytes.append(contentsOf: $0) }
    part.write(to: encoder)
    try! encoder.finish()
    return bytes
}

/// A part restored from section bytes (the whole section read).
func restoredPart<Part: LedgerPart>(_: Part.Type, _ bytes: [UInt8], clients: Int) throws -> Part {
    try bytes.withUnsafeBytes { raw in
        var d = SectionDecoder(raw, section: Part.section.name)
        let restored = try Part(from: &d, clients: clients)
        try d.end()
        return restored
    }
}

/// Restores each part it visits from its own section, checks the restored part's invariants,
/// and records whether it writes the same bytes again; `other`, when given, is a second set of
/// parts whose bytes must be the same.
struct PartRoundTrip: LedgerPartVisitor {
    let clients: Int
    var problems: [String] = []
    var visited: [String] = []

    mutating func visit<Part: LedgerPart>(_ part: Part) {
        visited.append(Part.section.name)
        let bytes = sectionBytes(part)
        do {
            let restored = try restoredPart(Part.self, bytes, clients: clients)
            restored.checkInvariants(clients: clients)
            if sectionBytes(restored) != bytes { problems.append("\(Part.section.name): restored, it writes other bytes") }
        } catch {
            problems.append("\(Part.section.name): \(error)")
        }
    }
}

/// Collects each part's bytes by section.
struct PartBytes: LedgerPartVisitor {
    var bytes: [String: [UInt8]] = [:]
    mutating func visit<Part: LedgerPart>(_ part: Part) { bytes[Part.section.name] = sectionBytes(part) }
}

@Suite("The state's parts")
struct PartsTests {
    /// A random stream of commands with idempotency keys (some repeated), orders, and segments
    /// defined, deleted, assigned and unassigned.
    static func run(seed: UInt64) -> Book {
        var r = SplitMix(state: seed)
        var book = Book()
        let start = Time.parse("2025-01-01T10:00:00Z")!
        book.run(#"{"type":"rules.changed","at":"2025-01-01T00:00:00Z","rules":{"pendingDays":1,"lifetimeDays":5}}"#)
        for c in 0..<4 {
            book.run(register("c\(c)", phone: "7916000000\(c)"))
            book.run(#"{"type":"bonus.accrued","at":"2025-01-01T09:00:00Z","client":"c\#(c)","amount":1000000,"expiresAt":"2030-01-01T00:00:00Z"}"#)
        }
        for step in 1...300 {
            let client = "c\(Int.random(in: 0..<4, using: &r))"
            let segment = ["VIP", "Сотрудники", "B2B"].randomElement(using: &r)!
            var line: String = switch Int.random(in: 0..<10, using: &r) {
            case 0: #"{"type":"segment.assigned","client":"\#(client)","segment":"\#(segment)"}"#
            case 1: #"{"type":"segment.unassigned","client":"\#(client)","segment":"\#(segment)"}"#
            case 2: #"{"type":"segment.defined","name":"\#(segment)","color":"red","filters":[{"field":"purchaseSum","op":"gte","values":[\#(step)]}]}"#
            case 3: #"{"type":"segment.deleted","name":"B2B"}"#
            default: PropertyTests.randomLine(&r, step, policy: "unlimited", start: start)
            }
            if Bool.random(using: &r) { line = #"{"key":"k\#(Int.random(in: 0..<200, using: &r))","# + line.dropFirst() }
            book.run(line)
            // A day on, the pending bonuses activate (and reservations find something to hold).
            if step % 24 == 0 { _ = book.advance(Time.iso(start + Int64(step) * 3_600_000_000)) }
        }
        return book
    }

    @Test("each part's section restores to an equal part that keeps its invariants", arguments: [1, 2, 3] as [UInt64])
    func sectionsRoundTrip(seed: UInt64) {
        let book = Self.run(seed: seed)
        #expect(!book.state.orders.isEmpty && !book.state.segmentDefinitions.isEmpty && book.state.parts.idempotency.count > 0,
                "the stream reaches every part: \(book.state.orders.count) orders, \(book.state.segmentDefinitions.count) segments")
        var check = PartRoundTrip(clients: book.state.records.count)
        book.state.parts.visit(&check)
        #expect(check.visited == ["idempotency", "orders", "segments", "client events", "named events", "event kinds", "client facts"])
        #expect(check.problems.isEmpty, "\(check.problems)")
    }

    @Test("a rebuild from the log's bytes gives every part the same bytes as the live state", arguments: [4, 5] as [UInt64])
    func rebuiltPartsEqualLive(seed: UInt64) {
        let book = Self.run(seed: seed)
        var live = PartBytes(), rebuilt = PartBytes()
        book.state.parts.visit(&live)
        book.rebuiltFromBytes(finished: true).parts.visit(&rebuilt)
        #expect(live.bytes == rebuilt.bytes)
    }

    @Test("a section that names a client the state does not have is refused, naming it")
    func danglingReferences() throws {
        let book = Self.run(seed: 6)
        let bytes = sectionBytes(book.state.parts.orders)
        let clients = book.state.orders.values.map { Int($0.client) }.max()!
        #expect(throws: SectionError.self) { try restoredPart(OrderBook.self, bytes, clients: clients) }
        #expect(try restoredPart(OrderBook.self, bytes, clients: clients + 1).orders.count == book.state.orders.count)
    }
}

@Suite("The journal's index of each client's events")
struct ClientEventsTests {
    static func applied(_ position: UInt64, _ client: Int32?) -> AppliedEvent {
        AppliedEvent(position: position, at: 0, kind: .noteAdded, derived: false, client: client, key: nil, event: nil)
    }

    @Test("chains each client's events newest first, across gaps, clientless events, and a step too long for 3 bytes")
    func chains() throws {
        var index = ClientEvents()
        index.nearLimit = 100   // 16 777 214 in use: the far steps' path, without 17 M events
        let far: UInt64 = 300
        let events: [(UInt64, Int32?)] = [(0, 0), (1, 1), (2, nil), (3, 0), (5, 1), (6, 0), (far, 0), (far + 1, 2), (far + 2, 1)]
        for (position, client) in events { index.apply(Self.applied(position, client)) }
        #expect(index.positions(of: 0) == [far, 6, 3, 0])
        #expect(index.positions(of: 1) == [far + 2, 5, 1])
        #expect(index.positions(of: 2) == [far + 1] && index.positions(of: 3).isEmpty)
        #expect(index.positions(of: 0, before: far, limit: 2) == [6, 3] && index.positions(of: 0, limit: 10, after: 6) == [3, 0])
        #expect(index.farSteps.count == 2, "client 0's and client 1's steps over the limit")
        index.checkInvariants(clients: 3)
        // Its section restores to the same chains, and names a client the state does not have.
        let bytes = sectionBytes(index)
        let restored = try restoredPart(ClientEvents.self, bytes, clients: 3)
        #expect(restored.positions(of: 0) == [far, 6, 3, 0] && restored.positions(of: 1) == [far + 2, 5, 1])
        #expect(sectionBytes(restored) == bytes)
        #expect(throws: SectionError.self) { try restoredPart(ClientEvents.self, bytes, clients: 2) }
    }

    @Test("a state built by hand that jumps far ahead starts the index again there, rather than filling the gap")
    func farJump() {
        var index = ClientEvents()
        index.apply(Self.applied(0, 0))
        index.apply(Self.applied(5_000_000, 0))
        index.apply(Self.applied(5_000_002, 0))
        #expect(index.positions(of: 0) == [5_000_002, 5_000_000] && index.steps.count == 3 && index.base == 5_000_000)
        index.apply(Self.applied(4, 1))   // behind the index: positions only grow, so it is ignored
        #expect(index.positions(of: 1).isEmpty)
        index.checkInvariants(clients: 2)
    }
}

@Suite("The journal's index of event types by block")
struct EventKindBlocksTests {
    @Test("a block matches exactly when one of its events has a wanted type, or refused one; the search finds the nearest such block both ways")
    func blocks() throws {
        var index = EventKindBlocks()
        var r = SplitMix(state: 9)
        let size = Int(1 << EventKindBlocks.blockShift)
        // 40 blocks of notes, with a rare type dropped into a few and a refused accrual in one.
        var rare: Set<Int> = []
        for position in 0..<(40 * size) {
            var kind = EventKind.noteAdded
            var event: DomainEvent? = nil
            if Int.random(in: 0..<3000, using: &r) == 0 { kind = .clientBlocked; rare.insert(position / size) }
            if position == 17 * size + 5 {
                kind = .operationRefused
                event = .operationRefused(Refusal(code: "client_blocked", operation: "bonus.accrued", message: "blocked"))
            }
            index.apply(AppliedEvent(position: UInt64(position), at: 0, kind: kind, derived: false, client: nil, key: nil, event: event))
        }
        #expect(!rare.isEmpty && rare.count < 40)
        let blocked = KindSet([EventKind.clientBlocked.rawValue]), accrued = KindSet([EventKind.bonusAccrued.rawValue])
        for block in 0..<40 {
            let start = UInt64(block * size), end = start + UInt64(size)
            // Newest first from the block's end: this block when it holds one, else an earlier one.
            let newest = index.newestMatch(blocked, below: end, from: 0)
            let expectedNewest = rare.filter { $0 <= block }.max().map { UInt64(($0 + 1) * size) }
            #expect(newest == expectedNewest, "newest from block \(block)")
            let oldest = index.oldestMatch(blocked, from: start)
            let expectedOldest = rare.filter { $0 >= block }.min().map { UInt64($0 * size) } ?? UInt64(40 * size)
            #expect(oldest == expectedOldest, "oldest from block \(block)")
        }
        // The refused accrual's block is a match for accruals, and for refusals.
        #expect(index.newestMatch(accrued, below: UInt64(40 * size), from: 0) == UInt64(18 * size))
        #expect(index.newestMatch(accrued, below: UInt64(17 * size), from: 0) == nil)
        #expect(index.oldestMatch(KindSet([EventKind.operationRefused.rawValue]), from: 0) == UInt64(17 * size))
        // Mid-block, the search starts where it is asked to; past the index, all may match.
        #expect(index.oldestMatch(accrued, from: UInt64(17 * size + 9)) == UInt64(17 * size + 9))
        #expect(index.newestMatch(accrued, below: UInt64(17 * size + 3), from: 0) == UInt64(17 * size + 3))
        #expect(index.newestMatch(accrued, below: UInt64(50 * size), from: 0) == UInt64(50 * size))
        #expect(index.newestMatch(accrued, below: UInt64(17 * size), from: UInt64(17 * size)) == nil)
        // Its section restores to the same bytes.
        let bytes = sectionBytes(index)
        #expect(sectionBytes(try restoredPart(EventKindBlocks.self, bytes, clients: 0)) == bytes)
        index.checkInvariants(clients: 0)
    }
}
