import Testing
@testable import LedgerDomain

@Suite("The bonus ledger (domain.md §4)")
struct BonusRuleTests {
    func bookWithPurchase() -> Book {
        var book = Book()
        book.run(register("c1", phone: "8 (916) 123-45-67", card: "2000001"))
        book.run(#"{"type":"purchase.made","at":"2025-01-02T12:00:00Z","client":"c1","purchase":"p1","total":120000,"paid":100000,"store":"store-7","items":[{"sku":"A1","name":"Кроссовки","category":"Обувь","qty":1,"price":120000}]}"#)
        return book
    }

    @Test("a purchase accrues 5 % of the money paid, pending for 14 days")
    func purchaseAccrues() {
        let book = bookWithPurchase()
        let b = book.balances("c1")
        #expect(b.pending == 5000 && b.available == 0 && b.accrued == 5000)
        let lot = book.state.client("c1")!.lots[0]
        #expect(lot.activatesAt == Time.parse("2025-01-16T12:00:00Z")!)
        #expect(lot.expiresAt == Time.parse("2026-01-16T12:00:00Z")!)
        #expect(book.state.purchase("p1")!.lot == lot.position)
    }

    @Test("the part of a receipt paid with bonuses earns nothing, and the bonuses spent are written off")
    func paidWithBonuses() {
        var book = Book()
        book.run(register("c1", phone: "+79161234567"))
        book.run(#"{"type":"bonus.accrued","at":"2025-01-02T10:00:00Z","client":"c1","amount":3000,"reason":"manual"}"#)
        book.run(#"{"type":"purchase.made","at":"2025-01-02T12:00:00Z","client":"c1","purchase":"p1","total":103000,"bonusesSpent":3000}"#)
        let b = book.balances("c1")
        #expect(b.used == 3000 && b.available == 0)
        #expect(b.pending == 5000, "5 % of the 1 000,00 paid in money, not of the 1 030,00 total")
    }

    @Test("bonuses become available when the advance step activates them, and advancing again appends nothing")
    func activationIsIdempotent() {
        var book = bookWithPurchase()
        #expect(book.advance("2025-01-16T12:00:00Z").activated == 1)
        #expect(book.balances("c1").available == 5000 && book.balances("c1").pending == 0)
        let count = book.events.count
        #expect(book.advance("2025-01-16T12:00:00Z") == (0, 0, 0))
        #expect(book.advance("2025-01-20T00:00:00Z") == (0, 0, 0))
        #expect(book.events.count == count)
        book.checkReplay()
    }

    @Test("an event only the engine makes (an expiry, a level change) is refused from a library caller as from JSON, and nothing is recorded")
    func derivedEventsAreRefused() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        book.run(#"{"type":"bonus.accrued","at":"2025-01-02T00:00:00Z","client":"c1","amount":1000,"reason":"manual"}"#)
        let before = book.state.nextPosition
        for event in [DomainEvent.bonusExpired(Expiry(lot: 1, amount: 1000)), .levelChanged(LevelChange(from: nil, to: "Gold", manual: true))] {
            let outcome = book.state.execute(Command(client: "c1", event: event), now: book.now, into: &book.events)
            guard case .refused(let code, let message, let recorded) = outcome else { Issue.record("\(event.kind.name) was accepted"); continue }
            #expect(code == .invalidEvent(field: "type") && recorded == nil && message.contains("derived by the engine"), "\(message)")
        }
        #expect(book.state.nextPosition == before && book.balances("c1").available == 1000)
    }

    @Test("a write-off consumes the lot that expires first, then the oldest")
    func writeOffOrder() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        book.run(#"{"type":"bonus.accrued","at":"2025-01-02T00:00:00Z","client":"c1","amount":1000,"reason":"manual","expiresAt":"2025-12-31"}"#)
        book.run(#"{"type":"bonus.accrued","at":"2025-01-03T00:00:00Z","client":"c1","amount":1000,"reason":"manual","expiresAt":"2025-03-01"}"#)
        book.run(#"{"type":"bonus.accrued","at":"2025-01-04T00:00:00Z","client":"c1","amount":1000,"reason":"manual","expiresAt":"2025-12-31"}"#)
        book.run(#"{"type":"bonus.written_off","at":"2025-01-05T00:00:00Z","client":"c1","amount":1500,"reason":"manual"}"#)
        guard case .bonusWrittenOff(let off) = book.events.last!.event else { Issue.record("no write-off"); return }
        let lots = book.state.client("c1")!.lots
        #expect(off.lots == [LotTake(lot: lots[1].position, amount: 1000), LotTake(lot: lots[0].position, amount: 500)])
        #expect(book.balances("c1").available == 1500 && book.balances("c1").used == 1500)
    }

    @Test("a write-off beyond the available balance is refused, recorded, and changes no balance")
    func insufficientBalance() {
        var book = bookWithPurchase()
        let before = book.balances("c1")
        let outcome = book.run(#"{"type":"bonus.written_off","client":"c1","amount":100,"reason":"manual"}"#)
        #expect(outcome.code == "insufficient_balance")
        #expect(book.balances("c1") == before)
        guard case .operationRefused(let r) = book.events.last!.event else { Issue.record("not recorded"); return }
        #expect(r.code == "insufficient_balance" && r.operation == "bonus.written_off" && r.amount == 100)
        #expect(book.events.last!.category == .bonuses)
    }

    @Test("a reservation holds bonuses; closing the order captures them; an order closes only once")
    func reservationCapture() {
        var book = bookWithPurchase()
        _ = book.advance("2025-01-17T00:00:00Z")
        book.run(#"{"type":"bonus.reserved","client":"c1","order":"o1","amount":1500}"#)
        #expect(book.balances("c1").reserved == 1500 && book.balances("c1").available == 3500)
        #expect(book.run(#"{"type":"bonus.written_off","client":"c1","amount":4000}"#).code == "insufficient_balance")
        book.run(#"{"type":"order.closed","client":"c1","order":"o1"}"#)
        #expect(book.balances("c1").reserved == 0 && book.balances("c1").used == 1500 && book.balances("c1").available == 3500)
        #expect(book.run(#"{"type":"order.closed","client":"c1","order":"o1"}"#).code == "order_closed")
        #expect(book.run(#"{"type":"order.cancelled","client":"c1","order":"o1"}"#).code == "order_closed")
        #expect(book.run(#"{"type":"order.closed","client":"c1","order":"o9"}"#).code == "unknown_order")
        book.checkReplay()
    }

    @Test("cancelling an order releases its reservation back to the account")
    func reservationRelease() {
        var book = bookWithPurchase()
        _ = book.advance("2025-01-17T00:00:00Z")
        book.run(#"{"type":"bonus.reserved","client":"c1","order":"o1","amount":2000}"#)
        book.run(#"{"type":"order.cancelled","client":"c1","order":"o1"}"#)
        #expect(book.balances("c1").available == 5000 && book.balances("c1").reserved == 0 && book.balances("c1").used == 0)
    }

    @Test("at its expiry what is left of a lot burns, and the expiry is journaled")
    func expiry() {
        var book = bookWithPurchase()
        _ = book.advance("2025-01-17T00:00:00Z")
        book.run(#"{"type":"bonus.written_off","client":"c1","amount":2000}"#)
        #expect(book.advance("2026-01-16T12:00:00Z").expired == 1)
        #expect(book.balances("c1").expired == 3000 && book.balances("c1").available == 0)
        guard case .bonusExpired(let e) = book.events.last!.event else { Issue.record("no expiry event"); return }
        #expect(e.amount == 3000 && book.events.last!.at == Time.parse("2026-01-16T12:00:00Z")!)
    }

    @Test("the advance step finds each due lot by its position's low 32 bits and its due time, even two lots 2³² events apart")
    func scheduleNamesLotsByLowBits() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        // Both lots fall due at the same microsecond; their positions share their low 32 bits.
        book.run(#"{"type":"bonus.accrued","at":"2025-01-02T00:00:00Z","client":"c1","amount":1000,"reason":"manual","expiresAt":"2025-06-01"}"#)
        let first = book.events.last!.position
        book.state.nextPosition = (1 << 32) + first
        book.run(#"{"type":"bonus.accrued","at":"2025-01-03T00:00:00Z","client":"c1","amount":700,"reason":"manual","expiresAt":"2025-06-01"}"#)
        let second = book.events.last!.position
        #expect(UInt32(truncatingIfNeeded: first) == UInt32(truncatingIfNeeded: second) && first != second)
        book.run(#"{"type":"purchase.made","at":"2025-01-04T00:00:00Z","client":"c1","purchase":"p1","total":10000,"paid":10000}"#)
        #expect(book.advance("2025-05-31T23:59:59Z") == (1, 0, 0), "the purchase's lot activates")
        #expect(book.advance("2025-06-02T00:00:00Z").expired == 2)
        let expiries = book.events.compactMap { record -> Expiry? in if case .bonusExpired(let e) = record.event { e } else { nil } }
        #expect(Set(expiries.map { "\($0.lot):\($0.amount)" }) == ["\(first):1000", "\(second):700"])
        #expect(book.balances("c1").expired == 1700 && book.balances("c1").available == 500)
        #expect(book.advance("2025-06-10T00:00:00Z") == (0, 0, 0))
    }

    @Test("an order cancelled after its lot's expiry, before the advance step: what it gives back burns, and the advance still burns the rest")
    func releaseAfterExpiry() {
        var book = bookWithPurchase()
        _ = book.advance("2025-01-17T00:00:00Z")
        book.run(#"{"type":"bonus.reserved","at":"2025-06-01T00:00:00Z","client":"c1","order":"o1","amount":1500}"#)
        // The lot expires 2026-01-16T12:00; the order is cancelled after that, before any advance.
        book.run(#"{"type":"order.cancelled","at":"2026-01-20T00:00:00Z","client":"c1","order":"o1"}"#)
        #expect(book.balances("c1").expired == 1500 && book.balances("c1").available == 3500,
                "the released 15,00 burn at once; the 35,00 never reserved wait for the advance step")
        #expect(book.state.client("c1")!.lots[0].phase == .active, "the lot still has a free part to expire")
        #expect(book.advance("2026-01-20T00:00:00Z").expired == 1)
        #expect(book.balances("c1").expired == 5000 && book.balances("c1").available == 0)
        #expect(book.advance("2026-02-01T00:00:00Z") == (0, 0, 0))
        book.checkReplay()
    }

    @Test("lots due past the schedule's horizon are found: stepping day by day, jumping once, and after a rebuild give the same events")
    func scheduleHorizon() {
        func program() -> Book {
            var book = Book()
            for c in 1...6 { book.run(register("c\(c)", phone: "7916000000\(c)", at: "2025-01-01T09:00:0\(c)Z")) }
            for c in 1...6 {
                book.run(#"{"type":"purchase.made","at":"2025-01-0\#(c + 1)T12:00:00Z","client":"c\#(c)","purchase":"p\#(c)","total":100000,"paid":100000}"#)
            }
            for c in 1...6 {
                // Manual lots that expire from 3 to 1000 days on: inside and far past any horizon.
                for days in [10, 100, 500] {
                    let expires = Time.iso(Time.parse("2025-01-10T00:00:00Z")! + Int64(days * c) * Time.microsPerDay / 3)
                    book.run(#"{"type":"bonus.accrued","at":"2025-01-08T00:00:00Z","client":"c\#(c)","amount":\#(100 * days),"expiresAt":"\#(expires)"}"#)
                }
            }
            return book
        }
        let end = "2027-06-01T00:00:00Z"
        var jump = program()
        let jumped = jump.advance(end)
        var daily = program()
        var day = Time.parse("2025-01-09T00:00:00Z")!
        while day < Time.parse(end)! {
            _ = daily.advance(Time.iso(day))
            day += Time.microsPerDay
        }
        _ = daily.advance(end)
        #expect(jumped.expired == 23 && jumped.activated == 6, "every lot due by then expires (all but c6's last, due in October 2027), every purchase lot activates: \(jumped)")
        let kinds = { (book: Book) in book.events.filter { $0.position >= 24 }.map { "\($0.client) \($0.event)" } }
        #expect(Set(kinds(daily)) == Set(kinds(jump)), "the same activations and expiries, whichever the steps")
        // A state rebuilt mid-way goes on as the live one does.
        var half = program()
        _ = half.advance("2025-06-01T00:00:00Z")
        var rebuilt = LedgerState(rebuilding: true)
        for record in half.events { rebuilt.apply(record) }
        rebuilt.finishRebuild()
        var out: [EventRecord] = []
        let rest = rebuilt.advance(to: Time.parse(end)!, into: &out)
        let liveRest = half.advance(end)
        #expect(rest == liveRest && out.map { "\($0.position) \($0.event)" } == half.events.suffix(out.count).map { "\($0.position) \($0.event)" })
    }

    @Test("a return of half the receipt takes back half its bonuses")
    func halfReturn() {
        var book = bookWithPurchase()
        book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r1","amount":50000}"#)
        #expect(book.balances("c1").pending == 2500 && book.balances("c1").cancelled == 2500)
        book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r2","amount":50000}"#)
        #expect(book.balances("c1").pending == 0 && book.balances("c1").cancelled == 5000)
        #expect(book.state.client("c1")!.stats.returnSum == 100000 && book.state.client("c1")!.stats.returnCount == 2)
    }

    @Test("a receipt and a lot beyond 42 949 672,95 keep every kopeck, through a half return and a replay")
    func amountsPast32Bits() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        // 100 000 000,00 paid (more than 32 bits) lifts the client to the top level: 10 % earned.
        book.run(#"{"type":"purchase.made","at":"2025-01-03T00:00:00Z","client":"c1","purchase":"p1","total":10000000000,"paid":10000000000}"#)
        book.run(#"{"type":"bonus.accrued","at":"2025-01-03T00:00:01Z","client":"c1","amount":5000000000}"#)
        #expect(book.state.purchase("p1")?.paid == 10_000_000_000 && book.state.purchase("p1")?.accrued == 1_000_000_000)
        #expect(book.state.client("c1")!.lots.map(\.amount) == [1_000_000_000, 5_000_000_000])
        book.run(#"{"type":"purchase.returned","at":"2025-01-04T00:00:00Z","client":"c1","purchase":"p1","return":"r1","amount":5000000000}"#)
        #expect(book.balances("c1").cancelled == 500_000_000 && book.balances("c1").pending == 500_000_000)
        book.run(#"{"type":"bonus.written_off","at":"2025-01-05T00:00:00Z","client":"c1","amount":700000000}"#)
        #expect(book.state.client("c1")!.lots.map(\.remaining) == [500_000_000, 4_300_000_000])
        book.checkReplay()
        book.checkByteReplay()
    }

    @Test("bonuses spent on a returned share come back to the client as a new lot")
    func spentBonusesComeBack() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        book.run(#"{"type":"bonus.accrued","at":"2025-01-02T00:00:00Z","client":"c1","amount":10000}"#)
        book.run(#"{"type":"purchase.made","at":"2025-01-03T00:00:00Z","client":"c1","purchase":"p1","total":110000,"paid":100000,"bonusesSpent":10000}"#)
        #expect(book.balances("c1").available == 0)
        book.run(#"{"type":"purchase.returned","at":"2025-01-04T00:00:00Z","client":"c1","purchase":"p1","return":"r1","amount":50000}"#)
        #expect(book.balances("c1").available == 5000, "half the spent bonuses come back")
        let refund = book.state.client("c1")!.lots.last!
        #expect(refund.reason == .refund && refund.amount == 5000 && refund.phase == .active)
    }

    @Test("a purchase cannot be returned beyond what was paid, and a return id counts once")
    func returnLimits() {
        var book = bookWithPurchase()
        let first = book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r1","amount":60000}"#)
        #expect(first.isAccepted)
        let count = book.events.count
        #expect(book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r1","amount":60000}"#) == .repeated(.accepted(first.positions!)))
        #expect(book.events.count == count, "a repeated return id appends nothing")
        #expect(book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r2","amount":40001}"#).code == "return_exceeds_paid")
        #expect(book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p9","return":"r3","amount":1}"#).code == "unknown_purchase")
    }

    @Test("under `unlimited` a clawback beyond the balance becomes a debt that later accruals pay off first")
    func unlimitedDebt() {
        var book = bookWithPurchase()
        _ = book.advance("2025-01-17T00:00:00Z")
        book.run(#"{"type":"bonus.written_off","client":"c1","amount":5000}"#)
        book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r1","amount":100000}"#)
        #expect(book.balances("c1").available == -5000 && book.balances("c1").debt == 5000)
        book.run(#"{"type":"bonus.accrued","client":"c1","amount":3000}"#)
        #expect(book.balances("c1").available == -2000 && book.balances("c1").debt == 2000)
        book.run(#"{"type":"bonus.accrued","client":"c1","amount":3000}"#)
        #expect(book.balances("c1").available == 1000 && book.balances("c1").debt == 0)
        book.checkReplay()
    }

    @Test("under `withinBalance` a return never takes the balance below zero")
    func withinBalance() {
        var book = bookWithPurchase()
        book.run(#"{"type":"rules.changed","rules":{"returnPolicy":"withinBalance"}}"#)
        _ = book.advance("2025-01-17T00:00:00Z")
        book.run(#"{"type":"bonus.written_off","client":"c1","amount":4000}"#)
        book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r1","amount":100000}"#)
        #expect(book.balances("c1").available == 0 && book.balances("c1").debt == 0)
        guard case .bonusCancelled(let c) = book.events.last!.event else { Issue.record("no cancellation"); return }
        #expect(c.amount == 1000 && c.forgiven == 4000 && c.debt == 0)
    }

    @Test("under `onlyPending` a return takes back only bonuses still pending")
    func onlyPending() {
        var book = bookWithPurchase()
        book.run(#"{"type":"rules.changed","rules":{"returnPolicy":"onlyPending"}}"#)
        book.run(#"{"type":"purchase.made","at":"2025-01-10T00:00:00Z","client":"c1","purchase":"p2","total":100000}"#)
        _ = book.advance("2025-01-17T00:00:00Z")  // p1's lot is active now, p2's still pending
        book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p1","return":"r1","amount":100000}"#)
        #expect(book.balances("c1").available == 5000, "p1's active bonuses are not taken back")
        book.run(#"{"type":"purchase.returned","client":"c1","purchase":"p2","return":"r2","amount":100000}"#)
        #expect(book.balances("c1").pending == 0 && book.balances("c1").cancelled == 5000)
    }

    @Test("a correction voids what is left of a manual accrual, and the part already spent becomes a debt")
    func correction() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        let accrual = book.run(#"{"type":"bonus.accrued","at":"2025-01-02T00:00:00Z","client":"c1","amount":10000,"comment":"ошибка оператора"}"#).positions!.lowerBound
        book.run(#"{"type":"bonus.written_off","at":"2025-01-03T00:00:00Z","client":"c1","amount":4000}"#)
        book.run(#"{"type":"bonus.corrected","at":"2025-01-04T00:00:00Z","client":"c1","accrual":\#(accrual),"comment":"начислено по ошибке"}"#)
        let b = book.balances("c1")
        #expect(b.available == -4000 && b.debt == 4000 && b.cancelled == 10000)
        #expect(book.run(#"{"type":"bonus.corrected","client":"c1","accrual":\#(accrual)}"#).code == "already_corrected")
        var p = bookWithPurchase()
        let purchaseLot = p.state.client("c1")!.lots[0].position
        #expect(p.run(#"{"type":"bonus.corrected","client":"c1","accrual":\#(purchaseLot)}"#).code == "not_correctable")
        #expect(p.run(#"{"type":"bonus.corrected","client":"c1","accrual":999}"#).code == "unknown_lot")
    }

    @Test("a blocked client gets no accrual, write-off, reservation or mailing; a purchase is recorded without bonuses; unblocking restores")
    func blocking() {
        var book = bookWithPurchase()
        _ = book.advance("2025-01-17T00:00:00Z")
        book.run(#"{"type":"client.blocked","client":"c1","comment":"мошенничество"}"#)
        #expect(book.run(#"{"type":"bonus.accrued","client":"c1","amount":100}"#).code == "client_blocked")
        #expect(book.run(#"{"type":"bonus.written_off","client":"c1","amount":100}"#).code == "client_blocked")
        #expect(book.run(#"{"type":"bonus.reserved","client":"c1","order":"o1","amount":100}"#).code == "client_blocked")
        #expect(book.run(#"{"type":"mailing.sent","client":"c1","mailing":"m1","channel":"sms"}"#).code == "client_blocked")
        #expect(book.run(#"{"type":"purchase.made","client":"c1","purchase":"p2","total":100000}"#).isAccepted)
        guard case .operationRefused(let r) = book.events.last!.event else { Issue.record("the missing accrual is not explained"); return }
        #expect(r.code == "client_blocked" && r.operation == "bonus.accrued" && book.events.last!.derived)
        #expect(book.state.client("c1")!.shownStatus == .blocked)
        book.run(#"{"type":"client.unblocked","client":"c1"}"#)
        #expect(book.run(#"{"type":"bonus.written_off","client":"c1","amount":100}"#).isAccepted)
    }

    @Test("an idempotency key answers a repeat with the original result and appends nothing")
    func idempotency() {
        var book = bookWithPurchase()
        let first = book.run(#"{"type":"bonus.accrued","client":"c1","amount":2000,"key":"op-77"}"#)
        let count = book.events.count
        #expect(book.run(#"{"type":"bonus.accrued","client":"c1","amount":2000,"key":"op-77"}"#) == .repeated(.accepted(first.positions!)))
        #expect(book.events.count == count)
        let refused = book.run(#"{"type":"bonus.written_off","client":"c1","amount":999999,"key":"op-78"}"#)
        #expect(book.run(#"{"type":"bonus.written_off","client":"c1","amount":1,"key":"op-78"}"#) == .repeated(.refused(code: "insufficient_balance", message: { if case .refused(_, let m, _) = refused { m } else { "" } }())))
        book.checkReplay()
    }

    @Test("an event earlier than the log's last is refused out_of_order, unrecorded")
    func outOfOrder() {
        var book = bookWithPurchase()
        let count = book.events.count
        #expect(book.run(#"{"type":"bonus.accrued","at":"2024-12-31T00:00:00Z","client":"c1","amount":100}"#).code == "out_of_order")
        #expect(book.events.count == count)
    }

    @Test("levels follow the purchase sum over the window, change the accrual rate, and a level set by hand stays")
    func levels() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        book.run(#"{"type":"purchase.made","at":"2025-01-02T00:00:00Z","client":"c1","purchase":"p1","total":100000}"#)
        #expect(book.state.client("c1")!.level == "Base")
        book.run(#"{"type":"purchase.made","at":"2025-01-03T00:00:00Z","client":"c1","purchase":"p2","total":2900000}"#)
        #expect(book.state.client("c1")!.level == "Silver")
        #expect(book.state.client("c1")!.lots.last!.amount == 2900000 * 7 / 100, "the new level's rate applies to the purchase that reached it")
        book.run(#"{"type":"level.set","client":"c1","level":"Gold"}"#)
        book.run(#"{"type":"purchase.made","at":"2025-01-04T00:00:00Z","client":"c1","purchase":"p3","total":1000}"#)
        book.run(#"{"type":"purchase.returned","at":"2025-01-05T00:00:00Z","client":"c1","purchase":"p2","return":"r1","amount":2900000}"#)
        #expect(book.state.client("c1")!.level == "Gold" && book.state.client("c1")!.levelManual)
        #expect(book.run(#"{"type":"level.set","client":"c1","level":"Platinum"}"#).code == "unknown_level")
        book.run(#"{"type":"level.set","client":"c1","level":null}"#)
        #expect(book.state.client("c1")!.level == "Base" && !book.state.client("c1")!.levelManual)
    }

    @Test("an amount past 10^12 minor units is invalid_amount, in every field that carries one, and the ledger's accrued total stays within 2^62")
    func amountLimits() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        let big = AmountLimits.amountMax + 1
        for line in [#"{"type":"bonus.accrued","client":"c1","amount":\#(big)}"#,
                     #"{"type":"bonus.accrued","client":"c1","amount":9223372036854775807}"#,
                     #"{"type":"purchase.made","client":"c1","purchase":"p1","total":\#(big)}"#,
                     #"{"type":"purchase.made","client":"c1","purchase":"p1","total":1000,"items":[{"sku":"A","price":\#(big)}]}"#,
                     #"{"type":"purchase.made","client":"c1","purchase":"p1","total":1000,"items":[{"sku":"A","price":1,"qty":\#(AmountLimits.quantityMax + 1)}]}"#,
                     #"{"type":"order.placed","client":"c1","order":"o1","amount":\#(big)}"#,
                     #"{"type":"rules.changed","rules":{"welcomeBonus":\#(big)}}"#] {
            // The parser refuses it, naming the field, before the engine sees it.
            #expect(throws: InvalidInput.self) { try CommandParser.parse(line: line, number: 1) }
            do { _ = try CommandParser.parse(line: line, number: 1) } catch { #expect(error.code == .invalidAmount, "\(line): \(error)") }
        }
        // A command built in Swift (no parser) is refused by the engine the same way, and not recorded.
        for command in [Command(client: "c1", event: .bonusAccrued(Accrual(amount: big, reason: .manual, activatesAt: 0, expiresAt: 0))),
                        Command(client: "c1", event: .bonusAccrued(Accrual(amount: 0, reason: .manual, activatesAt: 0, expiresAt: 0))),
                        Command(client: "c1", event: .bonusWrittenOff(WriteOff(amount: -5, reason: .manual, lots: []))),
                        Command(client: "c1", event: .purchaseReturned(PurchaseReturn(purchase: "p0", returnID: "r", amount: .max, items: [])))] {
            let (before, position) = (book.state.client("c1")!.balances, book.state.nextPosition)
            let outcome = book.state.execute(command, now: book.now, into: &book.events)
            #expect(outcome.code == "invalid_amount" && outcome.message != nil, "\(command)")
            #expect(book.state.client("c1")!.balances == before && book.state.nextPosition == position, "malformed input changes nothing and is not recorded")
        }
        #expect(book.run(#"{"type":"bonus.accrued","client":"c1","amount":\#(AmountLimits.amountMax)}"#).isAccepted, "the limit itself is allowed")
        // Near the ledger-wide limit (set directly: reaching it takes millions of commands).
        book.state.coreTotals.balances.accrued = AmountLimits.ledgerAccruedMax - 100
        let accrued = book.state.client("c1")!.balances.accrued
        #expect(book.run(#"{"type":"bonus.accrued","client":"c1","amount":101}"#).code == "not_allowed")
        #expect(book.state.client("c1")!.balances.accrued == accrued)
        #expect(book.run(#"{"type":"bonus.accrued","client":"c1","amount":100}"#).isAccepted)
    }

    @Test("a receipt's amounts are checked before any is subtracted: no overflow, a refusal naming the field")
    func receiptAmountsWithoutOverflow() {
        for (line, field) in [(#"{"type":"purchase.made","client":"c1","purchase":"p","total":9223372036854775807,"bonusesSpent":-1}"#, "total"),
                              (#"{"type":"purchase.made","client":"c1","purchase":"p","total":5,"bonusesSpent":-1}"#, "bonusesSpent"),
                              (#"{"type":"purchase.made","client":"c1","purchase":"p","total":5,"bonusesSpent":9223372036854775807,"paid":9223372036854775807}"#, "bonusesSpent"),
                              (#"{"type":"purchase.made","client":"c1","purchase":"p","total":5,"bonusesSpent":3,"paid":9223372036854775807}"#, "paid"),
                              (#"{"type":"purchase.made","client":"c1","purchase":"p","total":-9223372036854775807,"bonusesSpent":9223372036854775807}"#, "total")] {
            #expect(throws: InvalidInput.self) { try CommandParser.parse(line: line, number: 1) }
            do { _ = try CommandParser.parse(line: line, number: 1) } catch { #expect(error.field == field, "\(line)") }
        }
    }

    @Test("rules that would make more than 255 level names over the ledger's life are refused, not_allowed")
    func levelNameLimit() {
        var book = Book()
        book.run(register("c1", phone: "79160000001"))
        book.run(#"{"type":"purchase.made","at":"2025-01-02T00:00:00Z","client":"c1","purchase":"p1","total":100000}"#)  // reaches Base
        func rules(_ names: [String]) -> String {
            let levels = names.enumerated().map { #"{"name":"\#($1)","threshold":\#($0 * 100)}"# }.joined(separator: ",")
            return #"{"type":"rules.changed","at":"2025-01-03T00:00:00Z","rules":{"levels":[\#(levels)]}}"#
        }
        let fresh = (1...255).map { "L\($0)" }
        // With Base, which a client reached, that is 256 names.
        let version = book.state.rules.version
        #expect(book.run(rules(fresh)).code == "not_allowed")
        #expect(book.state.rules.version == version, "the refused rules change nothing")
        #expect(book.run(rules(["Base"] + fresh.dropLast())).isAccepted, "255 names, Base among them")
    }

    @Test("purchases older than the level window stop counting, and widening the window brings them back")
    func levelWindow() {
        var book = Book()
        book.run(#"{"type":"rules.changed","at":"2025-01-01T00:00:00Z","rules":{"levelWindowDays":30}}"#)
        book.run(register("c1", phone: "79160000001"))
        book.run(#"{"type":"purchase.made","at":"2025-01-02T00:00:00Z","client":"c1","purchase":"p1","total":3500000}"#)
        #expect(book.state.client("c1")!.level == "Silver")
        book.run(#"{"type":"purchase.made","at":"2025-02-15T00:00:00Z","client":"c1","purchase":"p2","total":1000}"#)
        #expect(book.state.client("c1")!.level == "Base", "p1 left the 30-day window")
        book.run(#"{"type":"rules.changed","at":"2025-02-16T00:00:00Z","rules":{"levelWindowDays":365}}"#)
        book.run(#"{"type":"purchase.made","at":"2025-02-17T00:00:00Z","client":"c1","purchase":"p3","total":1000}"#)
        #expect(book.state.client("c1")!.level == "Silver", "a wider window counts p1 again")
        book.checkReplay()
        book.checkByteReplay()
    }

    @Test("a rules change is versioned and drives only what is computed after it")
    func rulesChange() {
        var book = bookWithPurchase()
        book.run(#"{"type":"rules.changed","rules":{"accrualPercent":10,"pendingDays":0}}"#)
        #expect(book.state.rules.version == 1 && book.state.rules.accrualBasisPoints == 1000)
        book.run(#"{"type":"purchase.made","client":"c1","purchase":"p2","total":100000}"#)
        #expect(book.state.client("c1")!.lots[0].amount == 5000, "the earlier accrual stays")
        #expect(book.balances("c1").available == 10000, "Base takes the rules' rate: 10 % of 1 000,00, active at once")
        #expect(book.balances("c1").pending == 5000)
    }

    /// A ledger whose rules give a birthday bonus of 500,00 from 1 January 2025.
    static func bookWithBirthdayBonus() -> Book {
        var book = Book()
        book.run(#"{"type":"rules.changed","at":"2025-01-01T00:00:00Z","rules":{"birthdayBonus":50000}}"#)
        return book
    }

    /// The state rebuilt from the book's events, as a reopened ledger has it.
    static func rebuilt(_ book: Book) -> LedgerState {
        var state = LedgerState()
        for record in book.events { state.apply(record) }
        return state
    }

    @Test("a birthday refused to a blocked client is journaled, and stays refused after a rebuild once the client is unblocked")
    func birthdayRefusedWhileBlocked() {
        var book = Self.bookWithBirthdayBonus()
        book.run(register("c1", phone: "79160000001", extra: #","birthday":"1990-03-10""#))
        book.run(#"{"type":"client.blocked","at":"2025-03-01T00:00:00Z","client":"c1","comment":"проверка"}"#)
        #expect(book.advance("2025-03-10T08:00:00Z").birthdays == 0)
        guard case .operationRefused(let refusal) = book.events.last!.event else { Issue.record("the refused birthday is not journaled"); return }
        #expect(refusal.code == ErrorCode.clientBlocked.rawValue && refusal.operation == "bonus.accrued" && refusal.amount == 50000)
        #expect(refusal.source == "birthday-2025" && refusal.message.contains("birthday"))
        book.run(#"{"type":"client.unblocked","at":"2025-03-12T00:00:00Z","client":"c1","comment":"ок"}"#)
        var reopened = Self.rebuilt(book)
        var more: [EventRecord] = []
        #expect(reopened.advance(to: Time.parse("2025-03-13T00:00:00Z")!, into: &more) == (0, 0, 0), "a rebuilt state does not give it now")
        #expect(book.advance("2025-03-13T00:00:00Z") == (0, 0, 0))
        #expect(book.advance("2026-03-10T08:00:00Z").birthdays == 1, "next year's is given")
        book.checkReplay()
        book.checkCodecReplay()
        book.checkByteReplay()
    }

    @Test("birthdays between the last advance and a rebuild in the next year are given, once")
    func birthdayAcrossAYearAndARebuild() {
        var book = Self.bookWithBirthdayBonus()
        book.run(register("c1", phone: "79160000001", extra: #","birthday":"1990-12-31""#))
        book.run(register("c2", phone: "79160000002", extra: #","birthday":"1990-06-01""#))
        #expect(book.advance("2025-12-30T23:00:00Z").birthdays == 1, "c2's")
        book.run(#"{"type":"note.added","at":"2026-01-02T09:00:00Z","client":"c1","text":"звонок"}"#)
        var reopened = Self.rebuilt(book)
        var more: [EventRecord] = []
        #expect(reopened.advance(to: Time.parse("2026-01-02T12:00:00Z")!, into: &more).birthdays == 1, "c1's, of 31 December")
        #expect(book.advance("2026-01-02T12:00:00Z").birthdays == 1, "the live state gives the same one")
        #expect(reopened.advance(to: Time.parse("2026-01-03T12:00:00Z")!, into: &more).birthdays == 0)
        // Given on 2 January, the bonus was still 2025's: 2026's birthdays come in their turn.
        #expect(reopened.advance(to: Time.parse("2026-12-31T12:00:00Z")!, into: &more).birthdays == 2)
        #expect(book.advance("2026-12-31T12:00:00Z").birthdays == 2)
        book.checkCodecReplay()
        book.checkByteReplay()
    }

    @Test("birthdays that passed before the birthday bonus was introduced are not given, live or after a rebuild")
    func birthdayBonusIntroducedLater() {
        var book = Book()
        book.run(register("c1", phone: "79160000001", at: "2025-01-01T09:00:00Z", extra: #","birthday":"1990-02-01""#))
        book.run(register("c2", phone: "79160000002", at: "2025-01-01T09:00:00Z", extra: #","birthday":"1990-06-01""#))
        #expect(book.advance("2025-03-01T00:00:00Z") == (0, 0, 0))
        book.run(#"{"type":"rules.changed","at":"2025-04-01T00:00:00Z","rules":{"birthdayBonus":50000}}"#)
        var reopened = Self.rebuilt(book)
        var more: [EventRecord] = []
        #expect(reopened.advance(to: Time.parse("2025-06-02T00:00:00Z")!, into: &more).birthdays == 1, "c2's only")
        #expect(book.advance("2025-06-02T00:00:00Z").birthdays == 1)
    }

    @Test("born on 29 February: the birthday bonus comes on 28 February in other years, on the 29th in leap years")
    func birthdayOnTheTwentyNinthOfFebruary() {
        var book = Self.bookWithBirthdayBonus()
        book.run(register("c1", phone: "79160000001", extra: #","birthday":"1992-02-29""#))
        #expect(book.advance("2025-02-27T23:00:00Z").birthdays == 0)
        #expect(book.advance("2025-02-28T08:00:00Z").birthdays == 1)
        #expect(book.advance("2025-03-01T08:00:00Z").birthdays == 0)
        #expect(book.advance("2027-03-01T08:00:00Z").birthdays == 2, "28 February 2026 and 2027")
        #expect(book.advance("2028-02-28T08:00:00Z").birthdays == 0, "2028 has a 29 February")
        #expect(book.advance("2028-02-29T08:00:00Z").birthdays == 1)
        book.checkReplay()
    }

    @Test("a birthday bonus is accrued once a year by the advance step")
    func birthdayBonus() {
        var book = Self.bookWithBirthdayBonus()
        book.run(register("c1", phone: "79160000001", extra: #","birthday":"1990-03-10""#))
        #expect(book.advance("2025-03-09T23:00:00Z").birthdays == 0)
        #expect(book.advance("2025-03-10T08:00:00Z").birthdays == 1)
        #expect(book.advance("2025-03-11T08:00:00Z").birthdays == 0)
        #expect(book.balances("c1").available == 50000)
        #expect(book.advance("2026-03-10T08:00:00Z").birthdays == 1)
        book.checkReplay()
    }
}
