import Testing
import LedgerBytes
import LedgerGenerator
@testable import LedgerDomain

typealias SplitMix = SeededRandom

@Suite("Properties")
struct PropertyTests {
    /// A random stream of commands over a few clients: every kind of bonus operation, with
    /// amounts that are often too large, orders and returns that are often wrong; with
    /// `deletes`, now and then a client is deleted.
    static func randomLine(_ r: inout SplitMix, _ step: Int, policy: String, deletes: Bool = false,
                           start: Micros = Time.parse("2025-01-01T00:00:00Z")!) -> String {
        let client = "c\(Int.random(in: 0..<4, using: &r))"
        // One amount in eight near the limit: a receipt's total (amount × 20) up to 10¹² itself,
        // so that returns, shares and sums are taken on the largest amounts input may carry.
        let nearLimit = Int(AmountLimits.amountMax) / 20
        let amount = Int.random(in: 0..<8, using: &r) == 0 ? Int.random(in: (nearLimit - 1000)...nearLimit, using: &r) : Int.random(in: 1...6000, using: &r)
        let at = "\"at\":\"\(Time.iso(start + Int64(step) * 3_600_000_000))\""
        switch Int.random(in: 0..<16, using: &r) {
        case 0: return #"{"type":"client.registered",\#(at),"client":"\#(client)","phone":"7916000000\#(client.last!)"}"#
        case 1, 2: return #"{"type":"purchase.made",\#(at),"client":"\#(client)","purchase":"p\#(step)","total":\#(amount * 20),"bonusesSpent":\#(Bool.random(using: &r) ? amount / 4 : 0)}"#
        case 3:
            // Now and then an accrual of the largest amount, expiring at the last time input can say.
            if Int.random(in: 0..<10, using: &r) == 0 { return #"{"type":"bonus.accrued",\#(at),"client":"\#(client)","amount":\#(AmountLimits.amountMax),"expiresAt":"9999-12-31T23:59:59.999999Z"}"# }
            return #"{"type":"bonus.accrued",\#(at),"client":"\#(client)","amount":\#(amount)}"#
        case 4: return #"{"type":"bonus.written_off",\#(at),"client":"\#(client)","amount":\#(amount)}"#
        case 5: return #"{"type":"bonus.reserved",\#(at),"client":"\#(client)","order":"o\#(step % 7)","amount":\#(amount)}"#
        case 6: return #"{"type":"order.closed",\#(at),"client":"\#(client)","order":"o\#(Int.random(in: 0..<7, using: &r))"}"#
        case 7: return #"{"type":"order.cancelled",\#(at),"client":"\#(client)","order":"o\#(Int.random(in: 0..<7, using: &r))"}"#
        case 8, 9: return #"{"type":"purchase.returned",\#(at),"client":"\#(client)","purchase":"p\#(Int.random(in: max(0, step - 40)...step, using: &r))","return":"r\#(step)","amount":\#(amount * 5)}"#
        case 10: return #"{"type":"client.blocked",\#(at),"client":"\#(client)"}"#
        case 11: return #"{"type":"client.unblocked",\#(at),"client":"\#(client)"}"#
        case 12: return #"{"type":"bonus.corrected",\#(at),"client":"\#(client)","accrual":\#(Int.random(in: 0...max(0, step * 2), using: &r))}"#
        case 13: return #"{"type":"rules.changed",\#(at),"rules":{"returnPolicy":"\#(policy)","pendingDays":\#(Int.random(in: 0...3, using: &r)),"levelWindowDays":\#([0, 2, 5, 30].randomElement(using: &r)!),"levelBasis":"\#(Bool.random(using: &r) ? "sum" : "count")"}}"#
        case 15 where deletes && Int.random(in: 0..<10, using: &r) == 0: return #"{"type":"client.deleted",\#(at),"client":"\#(client)"}"#
        default: return #"{"type":"bonus.reserve_captured",\#(at),"client":"\#(client)","order":"o\#(Int.random(in: 0..<7, using: &r))"}"#
        }
    }

    @Test("property: random command streams keep every invariant, refusals change nothing, and replay equals the live state",
          arguments: [(1, "unlimited"), (2, "withinBalance"), (3, "onlyPending"), (4, "unlimited"), (5, "withinBalance"), (6, "unlimited"), (7, "onlyPending"), (8, "unlimited")])
    func randomStreams(seed: UInt64, policy: String) {
        for round in 0..<soak { randomStream(seed: seed &+ UInt64(round) << 32, policy: policy) }
    }

    func randomStream(seed: UInt64, policy: String) {
        var r = SplitMix(state: seed)
        var book = Book()
        book.run(#"{"type":"rules.changed","at":"2025-01-01T00:00:00Z","rules":{"returnPolicy":"\#(policy)","pendingDays":1,"lifetimeDays":5}}"#)
        for c in 0..<4 { book.run(register("c\(c)", phone: "7916000000\(c)")) }
        for step in 1...400 {
            let before = book.state.clients.map { ($0.balances, $0.lots) }
            let outcome = book.run(Self.randomLine(&r, step, policy: policy, deletes: true))
            if case .refused = outcome {
                for (i, client) in book.state.clients.enumerated() where i < before.count {
                    #expect(client.balances == before[i].0 && client.lots == before[i].1, "a refusal changed client \(client.id)")
                }
            }
            if step % 25 == 0 {
                _ = book.advance(Time.iso(Time.parse("2025-01-01T00:00:00Z")! + Int64(step) * 3_600_000_000))
            }
            // The incremental level window agrees with summing every purchase afresh.
            for (i, client) in book.state.clients.enumerated() {
                let state = book.state
                let from = state.rules.levelWindowDays > 0 ? Time.day(of: state.lastEventAt) - state.rules.levelWindowDays + 1 : Int64.min
                var sum: Int64 = 0, count: Int64 = 0
                for index in client.purchases where Time.day(of: state.purchaseStates[Int(index)].at) >= from {
                    let keep = state.kept(index)
                    sum += keep
                    count += keep > 0 ? 1 : 0
                }
                let measured = state.levelMeasure(i, at: state.lastEventAt)
                #expect(measured.sum == sum && measured.count == count, "level window of \(client.id) at step \(step)")
            }
            // The totals a stats read copies are kept as events apply: they equal a recount.
            #expect(book.state.totals == recountTotals(book.state), "totals at step \(step)")
            for client in book.state.clients where client.balances.available < 0 {
                #expect(policy == "unlimited", "available below zero only through a debt under unlimited (\(client.id): \(client.balances))")
            }
        }
        book.checkReplay()
        book.checkCodecReplay()
        book.checkByteReplay()
    }

    @Test("property: a state rebuilt midway decides every later command and advance step as the live one does (birthdays over a new year, blocks, deletions, repeated keys, whole returns)",
          arguments: [(1, "unlimited"), (2, "withinBalance"), (3, "onlyPending"), (4, "unlimited")])
    func rebuiltDecidesAsLive(seed: UInt64, policy: String) {
        var decided = 0
        for round in 0..<(8 * soak) { decided += rebuiltDecides(seed: seed &+ UInt64(round) << 32, policy: policy) }
        #expect(decided > 8, "the streams decided some birthdays")
    }

    /// Returns how many birthdays the stream decided (bonuses given or refused).
    func rebuiltDecides(seed: UInt64, policy: String) -> Int {
        var r = SplitMix(state: seed)
        // 400 hours from 20 December: the stream crosses a new year; birthdays fall on both sides.
        let start = Time.parse("2025-12-20T00:00:00Z")!
        var book = Book()
        book.now = start
        book.run(#"{"type":"rules.changed","at":"\#(Time.iso(start))","rules":{"returnPolicy":"\#(policy)","pendingDays":1,"lifetimeDays":5,"birthdayBonus":20000}}"#)
        for c in 0..<4 {
            let birthday = ["1990-12-22", "1985-12-26", "1999-12-31", "1970-01-03"][c]
            book.run(register("c\(c)", phone: "7916000000\(c)", at: Time.iso(start), extra: #","birthday":"\#(birthday)""#))
        }
        let cut = Int.random(in: 20...380, using: &r)
        var rebuilt: LedgerState? = nil
        var first = 0
        var rebuiltEvents: [EventRecord] = []
        var wholeReturns: [Int] = []
        for step in 1...400 {
            if step == cut {
                rebuilt = book.rebuiltFromBytes()  // as a reopened ledger rebuilds
                first = book.events.count
            }
            var line = Self.randomLine(&r, step, policy: policy, deletes: true, start: start)
            // Now and then a purchase returned whole while its bonuses are pending.
            let at = Time.iso(start + Int64(step) * 3_600_000_000)
            switch Int.random(in: 0..<12, using: &r) {
            case 0:
                line = #"{"type":"purchase.made","at":"\#(at)","client":"c\#(step % 4)","purchase":"q\#(step)","total":10000}"#
                wholeReturns.append(step)
            case 1 where !wholeReturns.isEmpty:
                let purchase = wholeReturns.removeFirst()
                line = #"{"type":"purchase.returned","at":"\#(at)","client":"c\#(purchase % 4)","purchase":"q\#(purchase)","return":"rq\#(purchase)","amount":10000}"#
            default:
                break
            }
            // Some commands carry idempotency keys, often one used before: repeats answer alike.
            if Int.random(in: 0..<5, using: &r) == 0 && !line.contains("rules.changed") {
                line = String(line.dropLast()) + #","key":"k\#(Int.random(in: 0..<40, using: &r))"}"#
            }
            let outcome = book.run(line)
            if rebuilt != nil {
                let command = try! CommandParser.parse(line: line, number: step)
                #expect(rebuilt!.execute(command, now: book.now, into: &rebuiltEvents) == outcome, "step \(step): \(line)")
            }
            // Advance steps at random, an hour to days apart (a gap may span the new year).
            if Int.random(in: 0..<30, using: &r) == 0 || step == 400 {
                let time = start + Int64(step) * 3_600_000_000 + 1
                let live = book.advance(Time.iso(time))
                if rebuilt != nil { #expect(rebuilt!.advance(to: time, into: &rebuiltEvents) == live, "advance at step \(step)") }
            }
        }
        #expect(Array(book.events[first...]) == rebuiltEvents, "the same events after the rebuild at step \(cut)")
        for (a, b) in zip(rebuilt!.clients, book.state.clients) { #expect(fingerprint(a) == fingerprint(b)) }
        return book.events.count { record in
            switch record.event {
            case .bonusAccrued(let a): a.reason == .birthday
            case .operationRefused(let refusal): refusal.source != nil
            default: false
            }
        }
    }

    @Test("property: every event body round-trips through the binary codec", arguments: 1...5)
    func codecRoundTrip(seed: UInt64) {
        var r = SplitMix(state: seed &* 7919)
        var book = Book()
        for c in 0..<4 { book.run(register("c\(c)", phone: "7916000000\(c)", extra: #","name":"Имя \#(c)","birthday":"1990-01-0\#(c + 1)""#)) }
        for step in 1...300 { book.run(Self.randomLine(&r, step, policy: "unlimited")) }
        book.run(#"{"type":"custom","client":"c1","name":"call","context":{"who":"Азбука","minutes":4.5,"ok":true,"when":"2025-02-01T10:00:00Z","n":0,"empty":""}}"#)
        // The events a rebuild reads straight from bytes besides the bonus ones.
        for (c, platform, channel) in [(0, "apple", "telegram"), (2, "google", "sms")] {
            #expect(book.run(#"{"type":"wallet.installed","client":"c\#(c)","platform":"\#(platform)"}"#).isAccepted)
            #expect(book.run(#"{"type":"messenger.subscribed","client":"c\#(c)","channel":"\#(channel)"}"#).isAccepted)
        }
        #expect(book.run(#"{"type":"wallet.removed","client":"c2","platform":"google"}"#).isAccepted)
        #expect(book.run(#"{"type":"messenger.unsubscribed","client":"c0","channel":"telegram"}"#).isAccepted)
        book.run(#"{"type":"mailing.sent","client":"c3","mailing":"m1","channel":"email","kind":"manual"}"#)
        book.run(#"{"type":"segment.defined","name":"VIP","color":"red","filters":[{"field":"purchaseSum","op":"gte","values":[100000]}]}"#)
        book.run(#"{"type":"rules.changed","rules":{"levels":[{"name":"A","threshold":0},{"name":"B","threshold":500,"percent":0}],"levelBasis":"count"}}"#)
        book.checkCodecReplay()
        book.checkByteReplay()
    }

    @Test("an older reader skips fields it does not know, and says how many")
    func unknownFieldsAreSkipped() throws {
        let buffer = WriteBuffer()
        EventCodec.encode(.noteAdded("hello"), derived: false, into: buffer)
        let w = FieldWriter(buffer)
        w.string(99, "a field from the future")
        w.int(98, -5)
        let decoded = try buffer.withUnsafeBytes { try EventCodec.decode(typeCode: EventKind.noteAdded.rawValue, $0) }
        #expect(decoded.event == .noteAdded("hello") && decoded.skippedFields == 2)
        #expect(throws: BodyError.unknownType(4000)) { try buffer.withUnsafeBytes { try EventCodec.decode(typeCode: 4000, $0) } }
    }

    @Test("a body's client number is read, a version 1 body without one still reads, and a number never registered is refused")
    func clientNumbers() throws {
        let buffer = WriteBuffer()
        EventCodec.encode(.noteAdded("hello"), derived: true, clientNumber: 300, into: buffer)
        #expect(buffer.bytes.prefix(3) == [0x23, 0xAC, 0x02], "flags: version 2, derived, a client number; then 300 as a varint")
        let decoded = try buffer.withUnsafeBytes { try EventCodec.decode(typeCode: EventKind.noteAdded.rawValue, $0) }
        #expect(decoded.event == .noteAdded("hello") && decoded.derived && decoded.clientNumber == 300)

        var v1 = buffer.bytes
        v1.replaceSubrange(0..<3, with: [0x11])
        let old = try v1.withUnsafeBytes { try EventCodec.decode(typeCode: EventKind.noteAdded.rawValue, $0) }
        #expect(old.event == .noteAdded("hello") && old.derived && old.clientNumber == nil)
        var unknownFlag = v1
        unknownFlag[0] = 0x13
        #expect(throws: BodyError.self) { try unknownFlag.withUnsafeBytes { try EventCodec.decode(typeCode: EventKind.noteAdded.rawValue, $0) } }

        // A rebuild trusts a number only when that client exists: here none does.
        var state = LedgerState()
        for kind in [EventKind.noteAdded, .mailingSent] {
            let body = WriteBuffer()
            EventCodec.encode(kind == .noteAdded ? .noteAdded("x") : .mailingSent(MailingEvent(mailing: "m", channel: .email, kind: .manual, error: nil)),
                              derived: false, clientNumber: 0, into: body)
            #expect(throws: BodyError.self) {
                try body.withUnsafeBytes { b in
                    try "c0".utf8CString.withUnsafeBytes { key in
                        _ = try state.replay(position: 0, at: 0, typeCode: kind.rawValue, client: UnsafeRawBufferPointer(rebasing: key.dropLast()), key: nil, body: b)
                    }
                }
            }
        }
        #expect(state.nextPosition == 0, "a refused event changes nothing")
    }

    @Test("a log that is whole but says what the state cannot hold (a client registered twice, a purchase recorded twice) fails to replay, changing nothing")
    func impossibleEvents() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        book.run(#"{"type":"purchase.made","at":"2025-01-02T00:00:00Z","client":"c1","purchase":"p1","total":100000}"#)
        var state = book.state
        let before = state.nextPosition
        let again: [(DomainEvent, Int32?)] = [
            (.clientRegistered(Registration(phone: nil, cards: ["77"], name: nil, email: nil, gender: nil, birthday: nil, place: nil, addedBy: nil, status: .participant)), nil),
            (.clientRegistered(Registration(phone: nil, cards: ["77"], name: nil, email: nil, gender: nil, birthday: nil, place: nil, addedBy: nil, status: .participant)), 1),
            (.purchaseMade(Purchase(purchase: "p1", total: 100, paid: 100, bonusesSpent: 0, store: nil, seller: nil, items: [], promotion: nil, promoCode: nil)), 0),
            (.purchaseMade(Purchase(purchase: "p1", total: 100, paid: 100, bonusesSpent: 0, store: nil, seller: nil, items: [], promotion: nil, promoCode: nil)), nil),
        ]
        for (event, number) in again {
            let body = WriteBuffer()
            EventCodec.encode(event, derived: false, clientNumber: number, into: body)
            #expect(throws: BodyError.self, "\(event), client number \(String(describing: number))") {
                try body.withUnsafeBytes { b in
                    try Array("c1".utf8).withUnsafeBytes { key in
                        _ = try state.replay(position: before, at: Time.parse("2025-01-03T00:00:00Z")!, typeCode: event.typeCode, client: key, key: nil, body: b)
                    }
                }
            }
        }
        #expect(state.nextPosition == before && state.purchaseCount == 1 && state.clients.count == 1, "nothing changed")
    }

    @Test("property: a damaged body never crashes the decoder", arguments: 1...3)
    func damagedBodies(seed: UInt64) {
        var r = SplitMix(state: seed)
        var book = Book()
        for c in 0..<3 { book.run(register("c\(c)", phone: "7916000000\(c)")) }
        for step in 1...100 { book.run(Self.randomLine(&r, step, policy: "unlimited")) }
        for record in book.events {
            let buffer = WriteBuffer()
            EventCodec.encode(record.event, derived: record.derived, clientNumber: record.clientNumber, into: buffer)
            var bytes = buffer.bytes
            for _ in 0..<(20 * soak) {
                var damaged = bytes
                let i = Int.random(in: 0..<damaged.count, using: &r)
                damaged[i] = UInt8.random(in: 0...255, using: &r)
                if Bool.random(using: &r) { damaged = Array(damaged.prefix(Int.random(in: 0...damaged.count, using: &r))) }
                _ = try? damaged.withUnsafeBytes { try EventCodec.decode(typeCode: record.event.typeCode, $0) }
            }
            bytes.removeAll()
        }
    }
}
