/// One line for people about an event, in Russian or English, as the journal shows it:
/// "Начислено 50,00 бонусов за покупку p1, активируются 16.01.2025" / "50.00 bonuses accrued
/// for purchase p1, active from 2025-01-16". Every event type has one (a switch with no
/// `default:`, so a new type is pointed at by the compiler); a test checks each in both
/// languages. Text that came from input (names, comments, ids) is kept as given: a terminal
/// printer escapes it (``Printable``).
extension DomainEvent {
    public func describe(_ language: Language) -> String {
        let w = Wording(language)
        switch self {
        case .bonusAccrued(let a): return w.accrual(a)
        case .bonusActivated(let a): return w.pick("Активировано \(w.bonuses(a.amount)) (начисление #\(a.lot))",
                                                   "\(w.bonuses(a.amount)) activated (accrual #\(a.lot))") + w.debtPaid(a.debtPaid)
        case .bonusWrittenOff(let o):
            let why = o.purchase.map { w.pick(" в оплату покупки \($0)", " to pay for purchase \($0)") } ?? w.pick(" вручную", " by hand")
            return w.pick("Списано \(w.bonuses(o.amount))", "\(w.bonuses(o.amount)) written off") + why + w.lots(o.lots) + w.comment(o.comment)
        case .bonusReserved(let r): return w.pick("Зарезервировано \(w.bonuses(r.amount)) под заказ \(r.order)", "\(w.bonuses(r.amount)) reserved for order \(r.order)")
        case .bonusReserveReleased(let r): return w.pick("Снят резерв \(w.bonuses(r.amount)) заказа \(r.order)", "Reserve of \(w.bonuses(r.amount)) for order \(r.order) released")
        case .bonusReserveCaptured(let r): return w.pick("Резерв \(w.bonuses(r.amount)) заказа \(r.order) списан", "Reserve of \(w.bonuses(r.amount)) for order \(r.order) captured")
        case .bonusExpired(let e): return w.pick("Сгорело \(w.bonuses(e.amount)) (начисление #\(e.lot))", "\(w.bonuses(e.amount)) expired (accrual #\(e.lot))")
        case .bonusCancelled(let c): return w.cancellation(c)
        case .mailingSent(let m): return w.mailing(m, "Отправлена рассылка", "Mailing sent")
        case .mailingDelivered(let m): return w.mailing(m, "Доставлена рассылка", "Mailing delivered")
        case .mailingOpened(let m): return w.mailing(m, "Открыта рассылка", "Mailing opened")
        case .mailingClicked(let m): return w.mailing(m, "Переход по ссылке рассылки", "Link clicked in mailing")
        case .mailingGoalReached(let m): return w.mailing(m, "Достигнута цель рассылки", "Goal reached for mailing")
        case .mailingFailed(let m): return w.mailing(m, "Не доставлена рассылка", "Mailing failed") + (m.error.map { ": \($0)" } ?? "")
        case .messengerSubscribed(let c): return w.pick("Подписка на \(c.rawValue)", "Subscribed to \(c.rawValue)")
        case .messengerUnsubscribed(let c): return w.pick("Отписка от \(c.rawValue)", "Unsubscribed from \(c.rawValue)")
        case .purchaseMade(let p): return w.purchase(p)
        case .purchaseReturned(let r):
            return w.pick("Возврат \(r.returnID) по покупке \(r.purchase) на \(w.money(r.amount)) ₽", "Return \(r.returnID) of purchase \(r.purchase): \(w.money(r.amount)) ₽ refunded")
                + w.items(r.items)
        case .orderPlaced(let o): return w.pick("Оформлен заказ \(o.order)", "Order \(o.order) placed") + (o.amount.map { w.pick(" на \(w.money($0)) ₽", " for \(w.money($0)) ₽") } ?? "")
        case .orderClosed(let o): return w.pick("Заказ \(o.order) закрыт", "Order \(o.order) closed")
        case .orderCancelled(let o): return w.pick("Заказ \(o.order) отменён", "Order \(o.order) cancelled")
        case .segmentEntered(let t): return w.pick("Вошёл в сегмент «\(t.segment)»", "Entered segment \"\(t.segment)\"") + w.cause(t.cause)
        case .segmentLeft(let t): return w.pick("Вышел из сегмента «\(t.segment)»", "Left segment \"\(t.segment)\"") + w.cause(t.cause)
        case .segmentAssigned(let s): return w.pick("Добавлен в сегмент «\(s)» вручную", "Added to segment \"\(s)\" by hand")
        case .segmentUnassigned(let s): return w.pick("Убран из сегмента «\(s)» вручную", "Removed from segment \"\(s)\" by hand")
        case .clientRegistered(let r): return w.registration(r)
        case .profileChanged(let changes): return w.pick("Изменён профиль: ", "Profile changed: ") + changes.map(w.change).joined(separator: ", ")
        case .cardAdded(let card): return w.pick("Добавлена карта \(card)", "Card \(card) added")
        case .cardRemoved(let card): return w.pick("Удалена карта \(card)", "Card \(card) removed")
        case .clientBlocked(let comment): return w.pick("Клиент заблокирован", "Client blocked") + w.comment(comment)
        case .clientUnblocked(let comment): return w.pick("Клиент разблокирован", "Client unblocked") + w.comment(comment)
        case .clientDeleted(let comment): return w.pick("Клиент удалён", "Client deleted") + w.comment(comment)
        case .walletInstalled(let p): return w.pick("Установлена карта Wallet (\(w.platform(p)))", "Wallet card installed (\(w.platform(p)))")
        case .walletRemoved(let p): return w.pick("Удалена карта Wallet (\(w.platform(p)))", "Wallet card removed (\(w.platform(p)))")
        case .levelChanged(let l):
            let to = l.to ?? w.pick("без уровня", "none"), from = l.from ?? w.pick("без уровня", "none")
            return w.pick("Уровень: \(from) → \(to)", "Level: \(from) → \(to)") + (l.manual ? w.pick(" (вручную)", " (by hand)") : "")
        case .npsRated(let score, let comment): return w.pick("Оценка NPS: \(score)", "NPS rating: \(score)") + w.comment(comment)
        case .noteAdded(let text): return w.pick("Заметка: \(text)", "Note: \(text)")
        case .custom(let e): return w.pick("Событие «\(e.name)»", "Event \"\(e.name)\"") + w.context(e.context)
        case .system(let e): return w.pick("Системное событие «\(e.name)»", "System event \"\(e.name)\"") + w.context(e.context)
        case .rulesChanged(let r): return w.pick("Правила изменены (версия \(r.version))", "Rules changed (version \(r.version))")
        case .segmentDefined(let s): return w.pick("Сегмент «\(s.name)» задан (версия \(s.version))", "Segment \"\(s.name)\" defined (version \(s.version))")
        case .segmentDeleted(let s): return w.pick("Сегмент «\(s)» удалён", "Segment \"\(s)\" deleted")
        case .operationRefused(let r): return w.refusal(r)
        }
    }
}

/// The words of one language, and the formats of its amounts and dates.
struct Wording {
    let russian: Bool
    init(_ language: Language) { russian = language == .russian }

    func pick(_ ru: String, _ en: String) -> String { russian ? ru : en }
    func money(_ minor: Int64) -> String { Money(minorUnits: minor).formatted(russian ? .russian : .english) }
    func bonuses(_ minor: Int64) -> String { money(minor) + pick(" бонусов", " bonuses") }
    func date(_ time: Micros) -> String { russian ? Time.russianDate(time) : Time.isoDate(day: Time.day(of: time)) }
    func comment(_ text: String?) -> String { text.map { pick(" — «\($0)»", " — \"\($0)\"") } ?? "" }
    func platform(_ p: WalletPlatform) -> String { p == .apple ? "Apple" : "Google" }
    /// What caused a segment transition: an event's position (`#123`), else the passing of time.
    func cause(_ position: UInt64?) -> String { position.map { pick(" (из-за события #\($0))", " (caused by event #\($0))") } ?? "" }

    func debtPaid(_ amount: Int64) -> String {
        amount > 0 ? pick(", из них \(money(amount)) погасили долг", ", \(money(amount)) of it paid off the debt") : ""
    }

    func lots(_ takes: [LotTake]) -> String {
        guard !takes.isEmpty else { return "" }
        let list = takes.map { "#\($0.lot): \(money($0.amount))" }.joined(separator: ", ")
        return pick(" (из начислений \(list))", " (from accruals \(list))")
    }

    func accrual(_ a: Accrual) -> String {
        let source = a.source ?? ""
        let why: String
        switch a.reason {
        case .purchase: why = pick(" за покупку \(source)", " for purchase \(source)")
        case .manual: why = pick(" вручную", " by hand")
        case .api: why = pick(" через API", " through the API")
        case .mailing: why = pick(" за рассылку", " for a mailing") + (a.source.map { " \($0)" } ?? "")
        case .promotion: why = pick(" по акции", " by a promotion") + (a.source.map { " \($0)" } ?? "")
        case .birthday: why = pick(" ко дню рождения", " for the birthday")
        case .welcome: why = pick(" за регистрацию", " for joining")
        case .refund: why = pick(" возвратом списанных за покупку \(source)", " back from purchase \(source)'s payment")
        }
        let active = a.activatesAt > 0 ? pick(", активируются \(date(a.activatesAt))", ", active from \(date(a.activatesAt))") : ""
        let expires = a.expiresAt > 0 ? pick(", сгорят \(date(a.expiresAt))", ", expire \(date(a.expiresAt))") : ""
        return pick("Начислено \(bonuses(a.amount))", "\(bonuses(a.amount)) accrued") + why + active + expires + debtPaid(a.debtPaid) + comment(a.comment)
    }

    func cancellation(_ c: Cancellation) -> String {
        let why: String
        switch c.reason {
        case .return: why = pick(" по возврату \(c.returnID ?? "") покупки \(c.purchase ?? "")", " by return \(c.returnID ?? "") of purchase \(c.purchase ?? "")")
        case .correction: why = pick(" исправлением начисления #\(c.correctedLot.map(String.init) ?? "")", " by correcting accrual #\(c.correctedLot.map(String.init) ?? "")")
        }
        var text = pick("Отменено \(bonuses(c.amount))", "\(bonuses(c.amount)) cancelled") + why + lots(c.lots)
        if c.debt > 0 { text += pick(", долг \(money(c.debt))", ", leaving a debt of \(money(c.debt))") }
        if c.forgiven > 0 { text += pick(", прощено \(money(c.forgiven))", ", \(money(c.forgiven)) forgiven") }
        return text + comment(c.comment)
    }

    func mailing(_ m: MailingEvent, _ ru: String, _ en: String) -> String {
        let kind = m.kind == .automatic ? pick(" (сценарий)", " (scenario)") : ""
        return pick("\(ru) \(m.mailing) по \(m.channel.rawValue)", "\(en): \(m.mailing) by \(m.channel.rawValue)") + kind
    }

    func purchase(_ p: Purchase) -> String {
        var text = pick("Покупка \(p.purchase) на \(money(p.total)) ₽", "Purchase \(p.purchase) of \(money(p.total)) ₽")
        if p.bonusesSpent > 0 { text += pick(", оплачено бонусами \(money(p.bonusesSpent))", ", \(money(p.bonusesSpent)) paid with bonuses") }
        if let store = p.store { text += pick(", магазин \(store)", ", store \(store)") }
        return text + items(p.items)
    }

    func items(_ items: [Item]) -> String {
        guard !items.isEmpty else { return "" }
        let shown = items.prefix(3).map { $0.name.isEmpty ? $0.sku : $0.name }.joined(separator: ", ")
        return pick(" (\(items.count) поз.: \(shown)", " (\(items.count) item\(items.count == 1 ? "" : "s"): \(shown)") + (items.count > 3 ? "…)" : ")")
    }

    func registration(_ r: Registration) -> String {
        var who: [String] = []
        if let name = r.name { who.append(name) }
        if let phone = r.phone { who.append(Phone.display(phone)) }
        if let card = r.cards.first { who.append(pick("карта \(card)", "card \(card)")) }
        return pick("Регистрация", "Registered") + (who.isEmpty ? "" : ": " + who.joined(separator: ", "))
            + (r.place.map { pick(", место \($0)", ", at \($0)") } ?? "")
    }

    func change(_ c: FieldChange) -> String {
        let old = c.old ?? "—", new = c.new ?? "—"
        return "\(c.field) \(old) → \(new)"
    }

    func context(_ context: [(String, ContextValue)]) -> String {
        context.isEmpty ? "" : ": " + context.map { "\($0.0)=\($0.1.text)" }.joined(separator: ", ")
    }

    func refusal(_ r: Refusal) -> String {
        let amount = r.amount.map { " " + (r.operation.hasPrefix("bonus.") ? bonuses($0) : money($0) + " ₽") } ?? ""
        let why = ErrorCode(rawValue: r.code).map(reason) ?? r.code
        return pick("Отказ: \(operation(r.operation))\(amount) — \(why)", "Refused: \(operation(r.operation))\(amount) — \(why)")
            + (r.source.map { " (\($0))" } ?? "")
    }

    /// What a refused operation was, in words.
    func operation(_ type: String) -> String {
        switch type {
        case "bonus.accrued": pick("начисление", "accrual of")
        case "bonus.written_off": pick("списание", "write-off of")
        case "bonus.reserved": pick("резерв", "reservation of")
        case "bonus.reserve_captured", "bonus.reserve_released", "order.closed", "order.cancelled": pick("операция с заказом", "order operation") + " (\(type))"
        case "bonus.corrected": pick("исправление начисления", "correction of an accrual")
        case "purchase.made": pick("покупка на", "purchase of")
        case "purchase.returned": pick("возврат на", "return of")
        default: type.hasPrefix("mailing.") ? pick("рассылка", "mailing") + " (\(type))" : type
        }
    }

    /// Why, in words, for each refusal code.
    func reason(_ code: ErrorCode) -> String {
        switch code {
        case .unknownClient: pick("нет такого клиента", "no such client")
        case .duplicateClient: pick("клиент уже зарегистрирован", "the client is already registered")
        case .phoneTaken: pick("телефон занят другим клиентом", "another client holds the phone")
        case .cardTaken: pick("карта занята другим клиентом", "another client holds the card")
        case .missingIdentity: pick("нет ни телефона, ни карты", "neither a phone nor a card")
        case .clientBlocked: pick("клиент заблокирован", "the client is blocked")
        case .clientDeleted: pick("клиент удалён", "the client is deleted")
        case .insufficientBalance: pick("недостаточно бонусов", "not enough bonuses")
        case .unknownOrder: pick("нет такого заказа", "no such order")
        case .orderClosed: pick("заказ уже закрыт", "the order is closed")
        case .unknownPurchase: pick("нет такой покупки", "no such purchase")
        case .duplicatePurchase: pick("покупка уже записана", "the purchase is already recorded")
        case .returnExceedsPaid: pick("возврат больше оплаченного", "the return exceeds what was paid")
        case .invalidAmount: pick("недопустимая сумма", "an amount out of range")
        case .outOfOrder: pick("время раньше последнего события", "a time before the last event")
        case .notAllowed: pick("не разрешено (предел или статус клиента)", "not allowed (a limit, or the client's status)")
        case .invalidEvent: pick("неверная операция", "a malformed operation")
        case .unknownCard: pick("нет такой карты", "no such card")
        case .unknownLot: pick("нет такого начисления", "no such accrual")
        case .notCorrectable: pick("исправлять можно только ручные начисления", "only manual accruals can be corrected")
        case .alreadyCorrected: pick("начисление уже исправлено", "the accrual was already corrected")
        case .unknownLevel: pick("нет такого уровня", "no such level")
        case .timeInFuture: pick("время в будущем", "a time in the future")
        }
    }
}

/// The full details of an event as JSON, with the contract's field names (those of the JSON
/// input where the event can be submitted; amounts in minor units, times ISO 8601).
extension DomainEvent {
    public var details: JSONValue {
        var d = Details()
        switch self {
        case .bonusAccrued(let a):
            d.amount("amount", a.amount); d.text("reason", a.reason.rawValue); d.time("activatesAt", a.activatesAt)
            d.time("expiresAt", a.expiresAt); d.text("source", a.source); d.text("comment", a.comment); d.text("operator", a.operatorName)
            if a.debtPaid > 0 { d.amount("debtPaid", a.debtPaid) }
            if a.customExpiry { d.flag("customExpiry", true) }
        case .bonusActivated(let a): d.position("accrual", a.lot); d.amount("amount", a.amount); if a.debtPaid > 0 { d.amount("debtPaid", a.debtPaid) }
        case .bonusWrittenOff(let o):
            d.amount("amount", o.amount); d.text("reason", o.reason.rawValue); d.text("purchase", o.purchase); d.text("comment", o.comment)
            d.text("operator", o.operatorName); d.lots(o.lots)
        case .bonusReserved(let r), .bonusReserveReleased(let r), .bonusReserveCaptured(let r):
            d.text("order", r.order); d.amount("amount", r.amount); d.lots(r.lots)
        case .bonusExpired(let e): d.position("accrual", e.lot); d.amount("amount", e.amount)
        case .bonusCancelled(let c):
            d.amount("amount", c.amount); d.text("reason", c.reason.rawValue); d.text("purchase", c.purchase); d.text("return", c.returnID)
            if let lot = c.correctedLot { d.position("accrual", lot) }
            d.lots(c.lots); d.amount("debt", c.debt); d.amount("forgiven", c.forgiven); d.text("comment", c.comment)
        case .mailingSent(let m), .mailingDelivered(let m), .mailingOpened(let m), .mailingClicked(let m), .mailingGoalReached(let m), .mailingFailed(let m):
            d.text("mailing", m.mailing); d.text("channel", m.channel.rawValue); d.text("kind", m.kind.rawValue); d.text("error", m.error)
        case .messengerSubscribed(let c), .messengerUnsubscribed(let c): d.text("channel", c.rawValue)
        case .purchaseMade(let p):
            d.text("purchase", p.purchase); d.amount("total", p.total); d.amount("paid", p.paid); d.amount("bonusesSpent", p.bonusesSpent)
            d.text("store", p.store); d.text("seller", p.seller); d.items(p.items); d.text("promotion", p.promotion); d.text("promoCode", p.promoCode)
        case .purchaseReturned(let r):
            d.text("purchase", r.purchase); d.text("return", r.returnID); d.amount("amount", r.amount); d.items(r.items)
            d.text("store", r.store); d.text("acceptedBy", r.acceptedBy)
        case .orderPlaced(let o), .orderClosed(let o), .orderCancelled(let o): d.text("order", o.order); if let amount = o.amount { d.amount("amount", amount) }
        case .segmentEntered(let t), .segmentLeft(let t):
            d.text("segment", t.segment); if let cause = t.cause { d.position("cause", cause) }
        case .segmentAssigned(let s), .segmentUnassigned(let s): d.text("segment", s)
        case .clientRegistered(let r):
            d.text("phone", r.phone); if !r.cards.isEmpty { d.fields.append(("cards", .array(r.cards.map(JSONValue.string)))) }
            d.text("name", r.name); d.text("email", r.email); d.text("gender", r.gender?.rawValue)
            d.text("birthday", r.birthday.map { Time.isoDate(day: $0) }); d.text("place", r.place); d.text("addedBy", r.addedBy)
            d.text("status", r.status.rawValue)
        case .profileChanged(let changes):
            d.fields.append(("changes", .array(changes.map { c in
                .object([("field", .string(c.field)), ("old", c.old.map(JSONValue.string) ?? .null), ("new", c.new.map(JSONValue.string) ?? .null)])
            })))
        case .cardAdded(let card), .cardRemoved(let card): d.text("card", card)
        case .clientBlocked(let comment), .clientUnblocked(let comment), .clientDeleted(let comment): d.text("comment", comment)
        case .walletInstalled(let p), .walletRemoved(let p): d.text("platform", p.rawValue)
        case .levelChanged(let l): d.text("from", l.from); d.text("to", l.to); d.flag("manual", l.manual)
        case .npsRated(let score, let comment): d.fields.append(("score", .integer(score))); d.text("comment", comment)
        case .noteAdded(let text): d.text("text", text)
        case .custom(let e), .system(let e): d.text("name", e.name); d.context(e.context)
        case .rulesChanged(let r): d.fields.append(("version", .integer(r.version)))
        case .segmentDefined(let s):
            d.text("name", s.name); d.text("color", s.color); d.fields.append(("version", .integer(s.version)))
            d.fields.append(("filters", (try? JSONParser.parse(s.filters)) ?? .string(s.filters)))
        case .segmentDeleted(let s): d.text("name", s)
        case .operationRefused(let r):
            d.text("code", r.code); d.text("operation", r.operation); d.text("message", r.message)
            if let amount = r.amount { d.amount("amount", amount) }
            d.text("source", r.source)
        }
        return .object(d.fields)
    }
}

/// Builds a details object: absent values are left out.
struct Details {
    var fields: [(String, JSONValue)] = []
    mutating func text(_ key: String, _ value: String?) { if let value { fields.append((key, .string(value))) } }
    mutating func amount(_ key: String, _ value: Int64) { fields.append((key, .integer(value))) }
    mutating func position(_ key: String, _ value: UInt64) { fields.append((key, .integer(Int64(clamping: value)))) }
    mutating func flag(_ key: String, _ value: Bool) { fields.append((key, .bool(value))) }
    mutating func time(_ key: String, _ value: Micros) { if value > 0 { fields.append((key, .string(Time.iso(value)))) } }

    mutating func lots(_ takes: [LotTake]) {
        guard !takes.isEmpty else { return }
        fields.append(("lots", .array(takes.map { .object([("accrual", .integer(Int64(clamping: $0.lot))), ("amount", .integer($0.amount))]) })))
    }

    mutating func items(_ items: [Item]) {
        guard !items.isEmpty else { return }
        fields.append(("items", .array(items.map { i in
            .object([("sku", .string(i.sku)), ("name", .string(i.name)), ("category", .string(i.category)), ("qty", .integer(i.quantity)), ("price", .integer(i.price))])
        })))
    }

    mutating func context(_ context: [(String, ContextValue)]) {
        fields.append(("context", .object(context.map { key, value in
            switch value {
            case .string(let s): (key, .string(s))
            case .number(let n): (key, n == n.rounded() && abs(n) < 1e15 ? .integer(Int64(n)) : .number(n))
            case .bool(let b): (key, .bool(b))
            case .date(let t): (key, .string(Time.iso(t)))
            }
        })))
    }
}
