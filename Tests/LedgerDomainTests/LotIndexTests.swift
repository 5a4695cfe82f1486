import Testing
@testable import LedgerDomain

@Suite("A client with many lots")
struct LotIndexTests {
    /// The spending order by brute force: every free lot, by expiry and then accrual.
    static func bruteForceTakes(_ state: LedgerState, _ i: Int, amount: Int64) -> [LotTake] {
        var left = amount
        var result: [LotTake] = []
        let order = state.lots(of: i).filter { $0.free > 0 }.sorted { ($0.expiresAt, $0.position) < ($1.expiresAt, $1.position) }
        for lot in order where left > 0 {
            result.append(LotTake(lot: lot.position, amount: min(left, lot.free)))
            left -= min(left, lot.free)
        }
        return result
    }

    @Test("property: a client whose lots cross the index thresholds both ways takes lots as the brute-force order does, and replays alike",
          arguments: 1...4)
    func heavyClient(seed: UInt64) {
        for round in 0..<soak { heavyStream(seed: seed &+ UInt64(round) << 32) }
    }

    func heavyStream(seed: UInt64) {
        var r = SplitMix(state: seed)
        var book = Book()
        book.run(#"{"type":"rules.changed","at":"2025-01-01T00:00:00Z","rules":{"returnPolicy":"unlimited","pendingDays":1,"lifetimeDays":30}}"#)
        book.run(register("c0", phone: "79160000000"))
        let start = Time.parse("2025-01-01T00:00:00Z")!
        var indexed = false
        var unindexed = false
        for step in 1...900 {
            let at = "\"at\":\"\(Time.iso(start + Int64(step) * 600_000_000))\""
            let amount = Int.random(in: 1...3000, using: &r)
            // Accruals outnumber spending for the first two thirds, then spending wins: the
            // list grows past the index's threshold and shrinks below it again.
            let growing = step < 600
            let line: String
            switch Int.random(in: 0..<10, using: &r) {
            case 0...4 where growing, 0 where !growing:
                let expiry = Bool.random(using: &r) ? #","expiresAt":"\#(Time.iso(start + Int64(Int.random(in: 1...90, using: &r)) * Time.microsPerDay))""# : ""
                line = Bool.random(using: &r)
                    ? #"{"type":"purchase.made",\#(at),"client":"c0","purchase":"p\#(step)","total":\#(amount * 20)}"#
                    : #"{"type":"bonus.accrued",\#(at),"client":"c0","amount":\#(amount),"reason":"\#(step < 60 && Bool.random(using: &r) ? "manual" : "promotion")"\#(expiry)}"#
            case 5, 1...3: line = #"{"type":"bonus.written_off",\#(at),"client":"c0","amount":\#(amount * (growing ? 1 : 4))}"#
            case 6: line = #"{"type":"bonus.reserved",\#(at),"client":"c0","order":"o\#(step % 5)","amount":\#(amount)}"#
            case 7: line = #"{"type":"order.\#(Bool.random(using: &r) ? "closed" : "cancelled")",\#(at),"client":"c0","order":"o\#(Int.random(in: 0..<5, using: &r))"}"#
            case 8: line = #"{"type":"purchase.returned",\#(at),"client":"c0","purchase":"p\#(Int.random(in: max(1, step - 200)...step, using: &r))","return":"r\#(step)","amount":\#(amount * 3)}"#
            default: line = #"{"type":"bonus.corrected",\#(at),"client":"c0","accrual":\#(Int.random(in: 0...max(0, step * 2), using: &r))}"#
            }
            book.run(line)
            if step % 50 == 0 { _ = book.advance(Time.iso(start + Int64(step) * 600_000_000)) }
            let list = book.state.records[0].lotList
            if list.count == LotPool.indexed { indexed = true } else if indexed { unindexed = true }
            let all = book.state.records[0].balances.available + 1_000_000
            #expect(book.state.takes(0, amount: all) == Self.bruteForceTakes(book.state, 0, amount: all), "spending order at step \(step)")
        }
        #expect(indexed && unindexed, "the stream crossed the index's thresholds both ways")
        book.checkReplay()
        book.checkByteReplay()
    }
}
