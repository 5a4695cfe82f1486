import Foundation
import Testing
import Ledger
import LedgerDomain

// Only the library's public declarations here (no @testable import): what a service calling
// the library can build, it builds in this file.

@Suite("Commands built in Swift")
struct SwiftCommandTests {
    static let t0 = Time.parse("2025-03-01T10:00:00Z")!
    static func at(_ minutes: Int64) -> Micros { t0 + minutes * 60_000_000 }

    /// Each JSON line of interface.md beside the same command built from the library's types.
    static let pairs: [(json: String, swift: Command)] = [
        (#"{"type":"rules.changed","at":"2025-03-01T10:00:00Z","rules":{"pendingDays":0}}"#,
         Command(at: at(0), client: "", .changeRules({ var p = RulesPatch(); p.pendingDays = 0; return p }()))),
        (#"{"type":"client.registered","at":"2025-03-01T10:01:00Z","client":"c1","phone":"+7 916 000-00-01","card":"2001","name":"Анна","gender":"female"}"#,
         Command(at: at(1), client: "c1", event: .clientRegistered(Registration(phone: "79160000001", cards: ["2001"], name: "Анна", gender: .female)))),
        (#"{"type":"purchase.made","at":"2025-03-01T10:02:00Z","client":"c1","purchase":"p1","total":100000,"store":"Тверская","items":[{"sku":"s1","name":"Кроссовки","category":"обувь","qty":1,"price":100000}]}"#,
         Command(at: at(2), client: "c1", event: .purchaseMade(Purchase(purchase: "p1", total: 100000, paid: 100000, store: "Тверская",
                                                                        items: [Item(sku: "s1", name: "Кроссовки", category: "обувь", quantity: 1, price: 100000)])))),
        (#"{"type":"bonus.accrued","at":"2025-03-01T10:03:00Z","client":"c1","amount":5000,"comment":"акция"}"#,
         Command(at: at(3), client: "c1", event: .bonusAccrued(Accrual(amount: 5000, reason: .manual, comment: "акция")))),
        (#"{"type":"bonus.written_off","at":"2025-03-01T10:04:00Z","client":"c1","amount":1000,"operator":"op-1"}"#,
         Command(at: at(4), client: "c1", event: .bonusWrittenOff(WriteOff(amount: 1000, reason: .manual, operatorName: "op-1")))),
        (#"{"type":"bonus.reserved","at":"2025-03-01T10:05:00Z","client":"c1","order":"o1","amount":2000}"#,
         Command(at: at(5), client: "c1", event: .bonusReserved(Reservation(order: "o1", amount: 2000)))),
        (#"{"type":"order.closed","at":"2025-03-01T10:06:00Z","client":"c1","order":"o1"}"#,
         Command(at: at(6), client: "c1", event: .orderClosed(OrderEvent(order: "o1", amount: nil)))),
        (#"{"type":"purchase.returned","at":"2025-03-01T10:07:00Z","client":"c1","purchase":"p1","return":"r1","amount":50000}"#,
         Command(at: at(7), client: "c1", event: .purchaseReturned(PurchaseReturn(purchase: "p1", returnID: "r1", amount: 50000)))),
        (#"{"type":"mailing.sent","at":"2025-03-01T10:08:00Z","client":"c1","mailing":"m1","channel":"sms"}"#,
         Command(at: at(8), client: "c1", event: .mailingSent(MailingEvent(mailing: "m1", channel: .sms)))),
        (#"{"type":"wallet.installed","at":"2025-03-01T10:09:00Z","client":"c1","platform":"apple"}"#,
         Command(at: at(9), client: "c1", event: .walletInstalled(.apple))),
        (#"{"type":"client.profile_changed","at":"2025-03-01T10:10:00Z","client":"c1","email":"anna@example.ru"}"#,
         Command(at: at(10), client: "c1", event: .profileChanged([FieldChange(field: "email", new: "anna@example.ru")]))),
        (#"{"type":"client.card_added","at":"2025-03-01T10:11:00Z","client":"c1","card":"2002"}"#,
         Command(at: at(11), client: "c1", event: .cardAdded("2002"))),
        (#"{"type":"nps.rated","at":"2025-03-01T10:12:00Z","client":"c1","score":9,"comment":"спасибо"}"#,
         Command(at: at(12), client: "c1", event: .npsRated(score: 9, comment: "спасибо"))),
        (#"{"type":"custom","at":"2025-03-01T10:13:00Z","client":"c1","name":"app_open","context":{"platform":"ios"}}"#,
         Command(at: at(13), client: "c1", event: .custom(NamedEvent(name: "app_open", context: [("platform", .string("ios"))])))),
        (#"{"type":"segment.defined","at":"2025-03-01T10:14:00Z","name":"VIP","filters":[]}"#,
         Command(at: at(14), client: "", event: .segmentDefined(SegmentDefinition(name: "VIP", filters: "[]")))),
        (#"{"type":"segment.assigned","at":"2025-03-01T10:15:00Z","client":"c1","segment":"VIP"}"#,
         Command(at: at(15), client: "c1", event: .segmentAssigned("VIP"))),
        (#"{"type":"bonus.corrected","at":"2025-03-01T10:16:00Z","client":"c1","accrual":5}"#,
         Command(at: at(16), client: "c1", .correct(lot: 5, comment: nil))),
        (#"{"type":"level.set","at":"2025-03-01T10:17:00Z","client":"c1","level":"Gold"}"#,
         Command(at: at(17), client: "c1", .setLevel("Gold"))),
    ]

    /// The same lines through the constructors that read like the domain, with typed amounts,
    /// times and ids (`Command.purchase(client:, Purchase(id:, total:, …))`).
    static func ts(_ minutes: Int64) -> Timestamp { Timestamp("2025-03-01T10:00:00Z")! + .seconds(60 * minutes) }
    static let typedPairs: [(json: String, swift: Command)] = [
        (pairs[0].json, .changeRules({ var p = RulesPatch(); p.pendingDays = 0; return p }(), at: ts(0))),
        (pairs[1].json, .register(client: "c1", Registration(phone: "79160000001", cards: ["2001"], name: "Анна", gender: .female), at: ts(1))),
        (pairs[2].json, .purchase(client: "c1", Purchase(id: "p1", total: Money(1000),
                                                           items: [Item(sku: "s1", name: "Кроссовки", category: "обувь", price: Money(1000))],
                                                           store: "Тверская"), at: ts(2))),
        (pairs[3].json, .accrue(client: "c1", Bonus(50), comment: "акция", at: ts(3))),
        (pairs[4].json, .writeOff(client: "c1", Bonus(10), operatorName: "op-1", at: ts(4))),
        (pairs[5].json, .reserve(client: "c1", order: "o1", Bonus(20), at: ts(5))),
        (pairs[6].json, .closeOrder(client: "c1", order: "o1", at: ts(6))),
        (pairs[7].json, .return(client: "c1", PurchaseReturn(purchase: "p1", id: "r1", refund: Money(500)), at: ts(7))),
        (pairs[8].json, .event(.mailingSent(MailingEvent(mailing: "m1", channel: .sms)), client: "c1", at: ts(8))),
        (#"{"type":"bonus.accrued","at":"2025-03-01T10:09:00Z","client":"c1","amount":1250,"expiresAt":"2025-12-31","key":"k-9"}"#,
         .accrue(client: "c1", Bonus(12, hundredths: 50), expiresAt: Timestamp(year: 2025, month: 12, day: 31), at: ts(9), key: "k-9")),
        (#"{"type":"purchase.made","at":"2025-03-01T10:10:00Z","client":"c1","purchase":"p2","total":30000,"bonusesSpent":1000}"#,
         .purchase(client: "c1", Purchase(id: "p2", total: Money(300), bonusesSpent: Bonus(10)), at: ts(10))),
        (#"{"type":"client.blocked","at":"2025-03-01T10:11:00Z","client":"c1","comment":"fraud check"}"#,
         .block(client: "c1", comment: "fraud check", at: ts(11))),
        (#"{"type":"client.unblocked","at":"2025-03-01T10:12:00Z","client":"c1"}"#, .unblock(client: "c1", at: ts(12))),
        (#"{"type":"level.set","at":"2025-03-01T10:13:00Z","client":"c1","level":null}"#, .setLevel(client: "c1", nil, at: ts(13))),
        (#"{"type":"bonus.corrected","at":"2025-03-01T10:14:00Z","client":"c1","accrual":5,"comment":"ошибка"}"#,
         .correct(client: "c1", accrual: 5, comment: "ошибка", at: ts(14))),
    ]

    @Test("each command built from the library's types gives the same outcome and events as its JSON line")
    func sameEventsAsJSON() throws {
        try Self.expectSameEvents(Self.pairs)
    }

    @Test("each command built by a typed constructor (Money, Bonus, Timestamp, ClientID) gives the same events as its JSON line")
    func typedConstructorsMatchJSON() throws {
        try Self.expectSameEvents(Self.typedPairs)
    }

    static func expectSameEvents(_ pairs: [(json: String, swift: Command)]) throws {
        var fromJSON = LedgerState(), fromSwift = LedgerState()
        var jsonEvents: [EventRecord] = [], swiftEvents: [EventRecord] = []
        for (k, pair) in pairs.enumerated() {
            let parsed = try CommandParser.parse(line: pair.json, number: k + 1)
            let a = fromJSON.execute(parsed, now: Self.t0, into: &jsonEvents)
            let b = fromSwift.execute(pair.swift, now: Self.t0, into: &swiftEvents)
            #expect(a == b, "line \(k + 1): \(pair.json)")
            #expect(a.isAccepted, "line \(k + 1) is accepted: \(a)")
            #expect(jsonEvents == swiftEvents, "line \(k + 1): \(pair.json)")
        }
        #expect(jsonEvents.count > pairs.count, "derived events (the purchase's accrual, the capture, the clawback) came too")
    }
}

@Suite("Values at the edges")
struct EdgeValueTests {
    @Test("amounts: whole units and hundredths, both languages' formats, saturation instead of a trap, JSON as minor units")
    func amounts() throws {
        #expect(Money(1250).minorUnits == 125_000 && Money(12, hundredths: 50) == Money(minorUnits: 1250))
        #expect(Money(1250).formatted() == "1 250,00" && Money(1250).formatted(.english) == "1,250.00")
        #expect(Bonus(minorUnits: -5).formatted(.english) == "-0.05" && Bonus(50).description == "50,00 bonuses")
        #expect(Money(Int64.max).minorUnits == .max && Money(Int64.min).minorUnits == .min)
        #expect(Bonus(3) + Bonus(2) - Bonus(1) == Bonus(4) && Bonus.zero < Bonus(minorUnits: 1))
        let json = try JSONEncoder().encode([Money(12, hundredths: 5)])
        #expect(String(decoding: json, as: UTF8.self) == "[1205]")
        #expect(try JSONDecoder().decode([Bonus].self, from: Data("[7]".utf8)) == [Bonus(minorUnits: 7)])
    }

    @Test("timestamps: Duration arithmetic, calendar days, ISO text both ways, saturation at Int64's ends")
    func timestamps() throws {
        let t = try #require(Timestamp("2025-03-01T10:00:00Z"))
        #expect((t + .seconds(90)).description == "2025-03-01T10:01:30Z")
        #expect((t - .milliseconds(1)).description == "2025-03-01T09:59:59.999000Z")
        #expect((t + .seconds(86_400)) - t == .seconds(86_400))
        #expect(Timestamp(year: 2025, month: 3, day: 1) == Timestamp("2025-03-01") && Timestamp(year: 2025, month: 2, day: 29) == nil)
        #expect(Timestamp("not a time") == nil && Timestamp(year: 2025, month: 13, day: 1) == nil)
        #expect((t + .seconds(Int64.max)).microsecondsSince1970 == .max && (t - .seconds(Int64.max)).microsecondsSince1970 == .min)
        let json = try JSONEncoder().encode([t])
        #expect(String(decoding: json, as: UTF8.self) == #"["2025-03-01T10:00:00Z"]"#)
        #expect(try JSONDecoder().decode([Timestamp].self, from: json) == [t])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([Timestamp].self, from: Data(#"["yesterday"]"#.utf8)) }
    }

    @Test("a client id is its text: a string literal, JSON as a string")
    func clientIDs() throws {
        let id: ClientID = "c1"
        #expect(id == ClientID("c1") && id.description == "c1")
        #expect(String(decoding: try JSONEncoder().encode([id]), as: UTF8.self) == #"["c1"]"#)
    }

    @Test("after close, writes are refused `closed` (not 'the log failed'), reads still answer, a second close does nothing")
    func closedLedger() async throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        _ = try await ledger.submit([.register(client: "c1", Registration(phone: "79160000001"), at: SwiftCommandTests.ts(0))])
        try ledger.close()
        try ledger.close()
        do {
            _ = try await ledger.submit([.accrue(client: "c1", Bonus(1))])
            Issue.record("a closed ledger accepted a submit")
        } catch {
            // Typed throws: `error` is a LedgerError, no cast needed.
            guard case .closed = error else { Issue.record("not .closed: \(error)"); return }
        }
        #expect(throws: LedgerError.self) { try ledger.advance(to: SwiftCommandTests.ts(60)) }
        #expect(ledger.client(id: "c1")?.phone == "79160000001")
        let reopened = try Ledger(directory: dir.path)
        #expect(reopened.position == 1)
        try reopened.close()
    }
}

@Suite("Typed refusals")
struct TypedRefusalTests {
    /// One reason of each case.
    static let reasons: [RefusalReason] = [
        .unknownClient(client: "c"), .duplicateClient(client: "c"), .phoneTaken(phone: "79160000001", holder: "c"),
        .cardTaken(card: "1", holder: "c"), .missingIdentity, .clientBlocked(client: "c"), .clientDeleted(client: "c"),
        .insufficientBalance(requested: Bonus(2), available: Bonus(1)), .unknownOrder(order: "o"), .orderClosed(order: "o"),
        .unknownPurchase(purchase: "p"), .duplicatePurchase(purchase: "p"), .returnExceedsPaid(requested: Money(2), returnable: Money(1)),
        .invalidAmount(field: "amount"), .outOfOrder(at: Timestamp(microsecondsSince1970: 1), last: Timestamp(microsecondsSince1970: 2)), .notAllowed, .invalidEvent(field: nil), .unknownCard(card: "1"),
        .unknownLot(position: 1), .notCorrectable(position: 1), .alreadyCorrected(position: 1), .unknownLevel(level: "Gold"),
        .timeInFuture(at: Timestamp(microsecondsSince1970: 1)),
    ]

    @Test("every refusal case has its contract code, and every contract code a case")
    func codesRoundTrip() {
        let codes = Self.reasons.map(\.code)
        #expect(Set(codes) == Set(ErrorCode.allCases), "missing: \(Set(ErrorCode.allCases).subtracting(codes))")
        #expect(codes.count == Set(codes).count, "one case a code")
        for reason in Self.reasons { #expect(ErrorCode(rawValue: reason.description) == reason.code) }
    }

    @Test("a refusal carries what explains it: the balance a write-off lacked, the holder of a phone")
    func refusalsCarryTheirData() throws {
        let t0 = Time.parse("2025-03-01T10:00:00Z")!
        var state = LedgerState()
        var events: [EventRecord] = []
        _ = state.execute(Command(at: t0, client: "c1", event: .clientRegistered(Registration(phone: "79160000001"))), now: t0, into: &events)
        _ = state.execute(Command(at: t0, client: "c1", event: .bonusAccrued(Accrual(amount: 500, reason: .manual))), now: t0, into: &events)
        let writeOff = state.execute(Command(at: t0, client: "c1", event: .bonusWrittenOff(WriteOff(amount: 800, reason: .manual))), now: t0, into: &events)
        guard case .refused(let reason, _, let recorded) = writeOff else { Issue.record("accepted: \(writeOff)"); return }
        #expect(reason == .insufficientBalance(requested: Bonus(8), available: Bonus(5)) && recorded != nil)
        let twin = state.execute(Command(at: t0, client: "c2", event: .clientRegistered(Registration(phone: "79160000001"))), now: t0, into: &events)
        guard case .refused(let taken, _, nil) = twin else { Issue.record("not refused unjournaled: \(twin)"); return }
        #expect(taken == .phoneTaken(phone: "79160000001", holder: "c1") && taken.code.rawValue == "phone_taken")
    }
}

@Suite("Results as values")
struct ResultValueTests {
    @Test("a client card is a plain value: Codable to JSON and back to an equal card, no tuples")
    func cardRoundTrips() async throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        _ = try await ledger.submit(SwiftCommandTests.pairs.map(\.swift))
        _ = try await ledger.submit([Command(at: SwiftCommandTests.at(30), client: "c1", event: .bonusAccrued(Accrual(amount: 300, reason: .manual)))])
        let card = try #require(ledger.client(id: "c1"))
        #expect(!card.nps.isEmpty && !card.receipts.isEmpty && !card.messengers.isEmpty && card.nextExpiry != nil)
        let json = try JSONEncoder().encode(card)
        let back = try JSONDecoder().decode(ClientCard.self, from: json)
        #expect(back == card)
        try ledger.close()
    }

    @Test("outcomes, refusals with their data, and advance results are Codable values too")
    func outcomesRoundTrip() throws {
        let outcomes: [Outcome] = [
            .accepted(3...5), .repeated(.accepted(1...1)), .repeated(.refused(code: "phone_taken", message: "taken")),
            .refused(.insufficientBalance(requested: Bonus(5), available: Bonus(2)), message: "write-off of 5,00 exceeds the available 2,00", recorded: 9),
            .refused(.outOfOrder(at: Timestamp(year: 2025, month: 1, day: 2)!, last: Timestamp(year: 2025, month: 1, day: 3)!), message: "…", recorded: nil),
        ]
        #expect(try JSONDecoder().decode([Outcome].self, from: JSONEncoder().encode(outcomes)) == outcomes)
        let advance = AdvanceResult(activated: 1, expired: 2, birthdayBonuses: 3, birthdaysRefused: 0, positions: [7, 8])
        #expect(try JSONDecoder().decode(AdvanceResult.self, from: JSONEncoder().encode(advance)) == advance)
    }
}
