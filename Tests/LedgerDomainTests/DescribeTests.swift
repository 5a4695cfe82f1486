import Testing
@testable import LedgerDomain

/// The journal's one-line descriptions and details, for every event type in both languages.
@Suite("Event descriptions")
struct DescribeTests {
    static let t = Time.parse("2025-01-16T12:00:00Z")!

    /// An event of each kind (a switch with no default: a new kind must be given one here).
    static func sample(_ kind: EventKind) -> DomainEvent {
        let lots = [LotTake(lot: 4, amount: 2000)]
        let mailing = MailingEvent(mailing: "m-1", channel: .sms, kind: .automatic, error: "undeliverable")
        switch kind {
        case .bonusAccrued: return .bonusAccrued(Accrual(amount: 5000, reason: .purchase, activatesAt: t, expiresAt: t + 365 * Time.microsPerDay, source: "p1"))
        case .bonusActivated: return .bonusActivated(Activation(lot: 4, amount: 5000, debtPaid: 0))
        case .bonusWrittenOff: return .bonusWrittenOff(WriteOff(amount: 2000, reason: .purchase, purchase: "p2", comment: nil, operatorName: nil, lots: lots))
        case .bonusReserved: return .bonusReserved(Reservation(order: "o1", amount: 1500, lots: lots))
        case .bonusReserveReleased: return .bonusReserveReleased(Reservation(order: "o1", amount: 1500, lots: lots))
        case .bonusReserveCaptured: return .bonusReserveCaptured(Reservation(order: "o1", amount: 1500, lots: lots))
        case .bonusExpired: return .bonusExpired(Expiry(lot: 4, amount: 3000))
        case .bonusCancelled:
            return .bonusCancelled(Cancellation(amount: 2500, reason: .return, purchase: "p1", returnID: "r1", correctedLot: nil, lots: lots, debt: 500, forgiven: 0, comment: nil))
        case .mailingSent: return .mailingSent(mailing)
        case .mailingDelivered: return .mailingDelivered(mailing)
        case .mailingOpened: return .mailingOpened(mailing)
        case .mailingClicked: return .mailingClicked(mailing)
        case .mailingGoalReached: return .mailingGoalReached(mailing)
        case .mailingFailed: return .mailingFailed(mailing)
        case .messengerSubscribed: return .messengerSubscribed(.telegram)
        case .messengerUnsubscribed: return .messengerUnsubscribed(.telegram)
        case .purchaseMade:
            return .purchaseMade(Purchase(purchase: "p1", total: 120_000, paid: 100_000, bonusesSpent: 20_000, store: "store-7",
                                          items: [Item(sku: "A1", name: "Кроссовки", category: "Обувь", quantity: 1, price: 120_000)]))
        case .purchaseReturned: return .purchaseReturned(PurchaseReturn(purchase: "p1", returnID: "r1", amount: 50_000))
        case .orderPlaced: return .orderPlaced(OrderEvent(order: "o1", amount: 90_000))
        case .orderClosed: return .orderClosed(OrderEvent(order: "o1", amount: nil))
        case .orderCancelled: return .orderCancelled(OrderEvent(order: "o1", amount: nil))
        case .segmentEntered: return .segmentEntered(SegmentTransition(segment: "VIP", cause: 12))
        case .segmentLeft: return .segmentLeft(SegmentTransition(segment: "VIP", cause: nil))
        case .segmentAssigned: return .segmentAssigned("VIP")
        case .segmentUnassigned: return .segmentUnassigned("VIP")
        case .clientRegistered: return .clientRegistered(Registration(phone: "79161234567", cards: ["2000001"], name: "Анна", place: "store-7"))
        case .profileChanged: return .profileChanged([FieldChange(field: "email", old: nil, new: "anna@example.ru")])
        case .cardAdded: return .cardAdded("2000002")
        case .cardRemoved: return .cardRemoved("2000002")
        case .clientBlocked: return .clientBlocked(comment: "проверка")
        case .clientUnblocked: return .clientUnblocked(comment: "проверено")
        case .clientDeleted: return .clientDeleted(comment: "по просьбе клиента")
        case .walletInstalled: return .walletInstalled(.apple)
        case .walletRemoved: return .walletRemoved(.google)
        case .levelChanged: return .levelChanged(LevelChange(from: "Silver", to: "Gold", manual: false))
        case .npsRated: return .npsRated(score: 9, comment: "спасибо")
        case .noteAdded: return .noteAdded("просил перезвонить")
        case .custom: return .custom(NamedEvent(name: "call_center", context: [("minutes", .number(4))]))
        case .system: return .system(NamedEvent(name: "item_in_stock", context: [("sku", .string("A1"))]))
        case .rulesChanged: return .rulesChanged(Rules())
        case .segmentDefined: return .segmentDefined(SegmentDefinition(name: "VIP", filters: #"[{"field":"purchaseSum","op":"gte","values":[5000000]}]"#))
        case .segmentDeleted: return .segmentDeleted("VIP")
        case .operationRefused:
            return .operationRefused(Refusal(code: "insufficient_balance", operation: "bonus.written_off", message: "write-off of 30,00 exceeds the available 0,00", amount: 3000))
        }
    }

    @Test("every event type has a description in Russian and in English, different, naming its figures", arguments: EventKind.allCases)
    func everyType(kind: EventKind) {
        let event = Self.sample(kind)
        let ru = event.describe(.russian), en = event.describe(.english)
        #expect(!ru.isEmpty && !en.isEmpty && ru != en, "\(kind.name): \(ru) / \(en)")
        #expect(ru.unicodeScalars.contains { (0x0400...0x04FF).contains($0.value) }, "\(kind.name)'s Russian has Cyrillic: \(ru)")
        if case .object(let fields) = event.details { #expect(!fields.isEmpty, "\(kind.name) has details") } else { Issue.record("details not an object") }
    }

    @Test("the issue's example, word for word, in both languages")
    func accrualExample() {
        let accrual = DomainEvent.bonusAccrued(Accrual(amount: 5000, reason: .purchase, activatesAt: Self.t, expiresAt: 0, source: "p1"))
        #expect(accrual.describe(.russian) == "Начислено 50,00 бонусов за покупку p1, активируются 16.01.2025")
        #expect(accrual.describe(.english) == "50.00 bonuses accrued for purchase p1, active from 2025-01-16")
        let refused = Self.sample(.operationRefused)
        #expect(refused.describe(.russian) == "Отказ: списание 30,00 бонусов — недостаточно бонусов")
        #expect(refused.describe(.english) == "Refused: write-off of 30.00 bonuses — not enough bonuses")
    }

    @Test("details carry the contract's field names and every figure")
    func details() {
        let details = Self.sample(.purchaseMade).details
        #expect(details["purchase"] == .string("p1") && details["total"] == .integer(120_000) && details["bonusesSpent"] == .integer(20_000))
        #expect(details["items"] == .array([.object([("sku", .string("A1")), ("name", .string("Кроссовки")), ("category", .string("Обувь")),
                                                     ("qty", .integer(1)), ("price", .integer(120_000))])]))
        #expect(Self.sample(.bonusWrittenOff).details["lots"] == .array([.object([("accrual", .integer(4)), ("amount", .integer(2000))])]))
        #expect(Self.sample(.custom).details["context"] == .object([("minutes", .integer(4))]))
    }
}
