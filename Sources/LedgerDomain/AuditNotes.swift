/// What an audit replay says about one client's event, beside its balances: the reasons the
/// log can give for what happened or did not (domain.md §8). Fed the client's events in
/// order; each call returns the notes of that event, and may add one to the event before it
/// (a Wallet install or a mailing is known to have brought no bonus only when the next event
/// is not its accrual).
public struct AuditNotes: Sendable {
    let w: Wording
    /// The time up to which the replay runs: a lot activating after it is still pending.
    let horizon: Micros
    var purchaseAccruals: Set<String> = []
    var birthdayYears: Set<Int64> = []
    /// The last event was an occasion for a bonus (a Wallet install, a mailing): its kind.
    var awaitingBonus: EventKind?

    public init(language: Language, horizon: Micros) {
        w = Wording(language)
        self.horizon = horizon
    }

    /// The notes of `event`, and a note for the event before it, if that one is now known to
    /// have brought no bonus.
    public mutating func notes(for event: DomainEvent, at: Micros, derived: Bool) -> (notes: [String], previous: String?) {
        var previous: String? = nil
        if let occasion = awaitingBonus {
            awaitingBonus = nil
            if case .bonusAccrued = event, derived {} else { previous = noBonus(occasion) }
        }
        var notes: [String] = []
        switch event {
        case .bonusAccrued(let a):
            if a.activatesAt > horizon {
                notes.append(w.pick("ещё не активны: активируются \(w.date(a.activatesAt))", "still pending: active from \(w.date(a.activatesAt))"))
            }
            if a.reason == .purchase, let source = a.source, !purchaseAccruals.insert(source).inserted {
                notes.append(w.pick("возможный дубль: второе начисление за покупку \(source)", "suspected duplicate: a second accrual for purchase \(source)"))
            }
            if a.reason == .birthday {
                let year = Time.civil(days: Time.day(of: at)).year
                if !birthdayYears.insert(year).inserted {
                    notes.append(w.pick("возможный дубль: второй бонус ко дню рождения в \(year) году", "suspected duplicate: a second birthday bonus in \(year)"))
                }
            }
        case .bonusCancelled(let c) where c.reason == .return:
            notes.append(w.pick("отменены возвратом \(c.returnID ?? "") покупки \(c.purchase ?? "")", "cancelled by return \(c.returnID ?? "") of purchase \(c.purchase ?? "")"))
            if c.debt > 0 { notes.append(w.pick("осталось долгом \(w.money(c.debt))", "left as a debt of \(w.money(c.debt))")) }
        case .operationRefused(let r) where r.code == ErrorCode.notAllowed.rawValue && (r.source ?? "").hasPrefix("birthday"):
            notes.append(w.pick("не выполнено: клиент не был участником программы (подписчик) в то время",
                                "not done: the client was not a participant (a subscriber) at the time"))
        case .operationRefused(let r):
            let why = ErrorCode(rawValue: r.code).map(w.reason) ?? r.code
            let when = r.code == ErrorCode.clientBlocked.rawValue ? w.pick(" в то время", " at the time") : ""
            notes.append(w.pick("не выполнено: \(why)\(when)", "not done: \(why)\(when)"))
        case .walletInstalled, .mailingSent:
            awaitingBonus = event.kind
        default:
            break
        }
        return (notes, previous)
    }

    /// The note for an occasion whose bonus never came, at the end of the replay.
    public mutating func finish() -> String? {
        defer { awaitingBonus = nil }
        return awaitingBonus.map(noBonus)
    }

    func noBonus(_ occasion: EventKind) -> String {
        occasion == .walletInstalled
            ? w.pick("бонус не начислен: ни одно правило не даёт бонус за установку карты Wallet", "no bonus: no rule gives one for installing the Wallet card")
            : w.pick("бонус не начислен: ни одно правило не даёт бонус за эту рассылку", "no bonus: no rule gives one for this mailing")
    }
}
