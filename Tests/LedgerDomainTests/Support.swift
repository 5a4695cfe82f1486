import Glibc
import Testing
@testable import LedgerDomain

/// How many times over the randomized tests run: 1 unless LEDGER_SOAK says more, for a long
/// soak (`LEDGER_SOAK=200 swift test --filter "JSONTests|PropertyTests"`, see the README).
let soak: Int = getenv("LEDGER_SOAK").flatMap { Int(String(cString: $0)) }.map { max(1, $0) } ?? 1

/// A ledger state driven by JSON lines, as a caller would drive it, with every event kept.
struct Book {
    var state = LedgerState()
    var events: [EventRecord] = []
    var line = 0
    /// The engine's clock for lines without `at`.
    var now = Time.parse("2025-01-01T00:00:00Z")!

    @discardableResult
    mutating func run(_ text: String) -> Outcome {
        line += 1
        let command: Command
        do { command = try CommandParser.parse(line: text, number: line) } catch {
            Issue.record("line \(line) did not parse: \(error)")
            return .refused(.invalidEvent(field: nil), message: "\(error)", recorded: nil)
        }
        let before = state.nextPosition
        let outcome = state.execute(command, now: now, into: &events)
        checkInvariants()
        if case .refused(_, _, let recorded) = outcome {
            #expect(state.nextPosition == before + (recorded == nil ? 0 : 1), "a refusal appends at most its own record")
        }
        return outcome
    }

    mutating func advance(_ iso: String) -> (activated: Int, expired: Int, birthdays: Int) {
        let result = state.advance(to: Time.parse(iso)!, into: &events)
        checkInvariants()
        return result
    }

    func balances(_ client: String) -> Balances { state.client(client)!.balances }

    /// accrued = available + pending + reserved + used + expired + cancelled, for every client;
    /// no lot below zero or above its amount; reserved within remaining.
    func checkInvariants() {
        state.checkInvariants()
        for c in state.clients {
            let b = c.balances
            #expect(b.accrued == b.available + b.pending + b.reserved + b.used + b.expired + b.cancelled, "balance identity for \(c.id): \(b)")
            #expect(b.debt >= 0 && b.pending >= 0 && b.reserved >= 0)
            let pendingLots = c.lots.filter { $0.phase == .pending }.reduce(0) { $0 + $1.remaining }
            #expect(pendingLots == b.pending, "pending of \(c.id) is the sum of its pending lots")
            #expect(c.lots.reduce(0) { $0 + $1.reserved } == b.reserved, "reserved of \(c.id) is what its lots hold")
            let index = state.clientIndex(c.id).map(Int.init)
            let held = state.orders.values.filter { Int($0.client) == index && $0.phase == .open }.reduce(0) { $0 + $1.reserved }
            #expect(held == b.reserved, "reserved of \(c.id) is what its open orders hold")
            let active = c.lots.filter { $0.phase != .pending }.reduce(0) { $0 + $1.remaining - $1.reserved }
            #expect(active - b.debt == b.available, "available of \(c.id) is its free active lots less its debt")
            for lot in c.lots {
                #expect(lot.remaining >= 0 && lot.remaining <= lot.amount && lot.reserved >= 0 && lot.reserved <= lot.remaining,
                        "lot \(lot.position) of \(c.id) is within its amount: \(lot)")
                #expect(lot.phase != .expired || lot.remaining == lot.reserved,
                        "an expired lot of \(c.id) keeps only what reservations hold, nothing free: \(lot)")
            }
        }
    }

    /// Replays the kept events into a fresh state and checks it equals the live one.
    func checkReplay() {
        var replayed = LedgerState()
        for record in events { replayed.apply(record) }
        #expect(replayed.nextPosition == state.nextPosition)
        #expect(replayed.clients.count == state.clients.count)
        for (a, b) in zip(replayed.clients, state.clients) { #expect(fingerprint(a) == fingerprint(b)) }
        #expect(replayed.idempotency() == state.idempotency())
        #expect(replayed.rules == state.rules)
        #expect(replayed.totals == state.totals && state.totals == recountTotals(state), "the kept totals equal a recount, live and replayed")
    }

    /// The state a rebuild makes of the kept events: each body encoded, then applied straight
    /// from its bytes; `finished`: with the decision caches built, as a reopened ledger has it.
    func rebuiltFromBytes(finished: Bool = true) -> LedgerState {
        var replayed = LedgerState(rebuilding: true)
        for record in events {
            let buffer = LedgerBytes.WriteBuffer()
            EventCodec.encode(record.event, derived: record.derived, clientNumber: record.clientNumber, into: buffer)
            var client = record.client
            var key = record.idempotencyKey
            do {
                _ = try client.withUTF8 { clientBytes in
                    try buffer.withUnsafeBytes { body in
                        if key != nil {
                            return try key!.withUTF8 { keyBytes in
                                try replayed.replay(position: record.position, at: record.at, typeCode: record.event.typeCode,
                                                    client: UnsafeRawBufferPointer(clientBytes), key: UnsafeRawBufferPointer(keyBytes), body: body)
                            }
                        }
                        return try replayed.replay(position: record.position, at: record.at, typeCode: record.event.typeCode,
                                                   client: UnsafeRawBufferPointer(clientBytes), key: nil, body: body)
                    }
                }
            } catch {
                Issue.record("event \(record.position) did not replay: \(error)")
            }
        }
        if finished { replayed.finishRebuild() }
        return replayed
    }

    /// As a rebuild replays: every event's body encoded, then applied straight from its bytes.
    func checkByteReplay() {
        var replayed = rebuiltFromBytes(finished: false)
        #expect(replayed.nextPosition == state.nextPosition)
        for (a, b) in zip(replayed.clients, state.clients) { #expect(fingerprint(a) == fingerprint(b)) }
        #expect(replayed.idempotency() == state.idempotency())
        #expect(replayed.purchaseCount == state.purchaseCount)
        for p in 0..<Int32(state.purchaseCount) { #expect(replayed.bonusesSpent(of: p) == state.bonusesSpent(of: p)) }
        #expect(replayed.typeCounts == state.typeCounts)
        #expect(replayed.totals == state.totals, "a rebuild from bytes keeps the same totals")
        // What decisions read next must be the same after a rebuild as live.
        replayed.finishRebuild()
        for i in state.clients.indices {
            #expect(replayed.levelMeasure(i, at: state.lastEventAt) == state.levelMeasure(i, at: state.lastEventAt))
        }
        // And the advance step does the same from both: compare what each would append.
        if state.lastEventAt != Int64.min {
            var live = state, rebuilt = replayed
            var liveEvents: [EventRecord] = [], rebuiltEvents: [EventRecord] = []
            let later = state.lastEventAt + 400 * Time.microsPerDay
            _ = live.advance(to: later, into: &liveEvents)
            _ = rebuilt.advance(to: later, into: &rebuiltEvents)
            #expect(rebuiltEvents == liveEvents, "the rebuilt state advances as the live one")
        }
    }

    /// Also through the binary codec: encode every event, decode, replay.
    func checkCodecReplay() {
        var replayed = LedgerState()
        for record in events {
            let buffer = LedgerBytes.WriteBuffer()
            EventCodec.encode(record.event, derived: record.derived, clientNumber: record.clientNumber, into: buffer)
            guard let decoded = try? buffer.withUnsafeBytes({ try EventCodec.decode(typeCode: record.event.typeCode, $0) }) else {
                Issue.record("the body of \(record.event) does not decode")
                continue
            }
            #expect(decoded.event == record.event && decoded.derived == record.derived && decoded.clientNumber == record.clientNumber)
            #expect(record.client.isEmpty == (record.clientNumber == nil), "every event of a client carries its number")
            // Applied without the number: the client is found by id, and the result is the same.
            var copy = record
            copy.clientNumber = nil
            copy.event = decoded.event
            replayed.apply(copy)
        }
        for (a, b) in zip(replayed.clients, state.clients) { #expect(fingerprint(a) == fingerprint(b)) }
        #expect(replayed.totals == state.totals)
    }
}

import LedgerBytes

/// The ledger's totals counted afresh over every client and order (what the state keeps as
/// events apply must always equal this).
func recountTotals(_ state: LedgerState) -> Totals {
    var totals = Totals()
    for c in state.clients {
        if c.deleted { totals.deletedClients += 1; continue }
        totals.clients += 1
        if c.blocked { totals.blockedClients += 1 }
        totals.balances.add(c.balances, sign: 1)
    }
    totals.openOrders = state.orders.values.filter { $0.phase == .open }.count
    return totals
}

func fingerprint(_ c: ClientState) -> String {
    "\(c.id)|\(c.name ?? "")|\(c.phone ?? "")|\(c.cards)|\(c.status)|\(c.blocked)|\(c.deleted)|\(c.level ?? "")|\(c.levelManual)|\(c.lots)|\(c.balances)|\(c.stats)|\(c.segments.sorted())|\(c.walletBits)|\(c.messengers.map { "\($0.0)\($0.1)" })|\(c.eventCount)|\(c.lastBirthdayYear)|\(c.nps.map { "\($0.at) \($0.score) \($0.comment ?? "-")" })|\(c.notes.map { "\($0.at) \($0.text)" })"
}

extension Outcome {
    var code: String? { if case .refused(let reason, _, _) = self { reason.code.rawValue } else { nil } }
    var reason: RefusalReason? { if case .refused(let reason, _, _) = self { reason } else { nil } }
    var message: String? { if case .refused(_, let message, _) = self { message } else { nil } }
    var positions: ClosedRange<UInt64>? { if case .accepted(let r) = self { r } else { nil } }
}

/// The registration line of a client.
func register(_ id: String, phone: String? = nil, card: String? = nil, at: String = "2025-01-01T09:00:00Z", extra: String = "") -> String {
    var fields = "\"type\":\"client.registered\",\"at\":\"\(at)\",\"client\":\"\(id)\""
    if let phone { fields += ",\"phone\":\"\(phone)\"" }
    if let card { fields += ",\"card\":\"\(card)\"" }
    return "{\(fields)\(extra)}"
}
