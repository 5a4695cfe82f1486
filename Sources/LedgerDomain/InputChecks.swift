/// Malformed input, refused before anything is decided and never recorded (see ``Refuse``):
/// every amount within its range, every time one the engine can hold, the rules' rates and days
/// within theirs. The parser refuses the same first, naming the line; these checks hold for
/// commands built in Swift too.
extension LedgerState {
    /// An amount that must be at least 1 minor unit and at most ``AmountLimits/amountMax``.
    func positive(_ amount: Int64, _ field: String) throws {
        guard amount > 0 && amount <= AmountLimits.amountMax else {
            throw Refuse.malformed(.invalidAmount(field: field), "field '\(field)' must be 1 to \(AmountLimits.amountMax) (minor units), got \(amount)")
        }
    }

    /// An amount a command gives, from 0 to ``AmountLimits/amountMax``.
    /// (`field` is built only for a refusal: a purchase checks every item's price.)
    func withinLimit(_ amount: Int64, _ field: @autoclosure () -> String) throws {
        guard amount >= 0 && amount <= AmountLimits.amountMax else {
            throw Refuse.malformed(.invalidAmount(field: field()), "field '\(field())' must be 0 to \(AmountLimits.amountMax) (minor units), got \(amount)")
        }
    }

    /// A time the engine can hold: from year 0 to year 9999 (what ISO 8601 input can say), so
    /// that adding a rule's days to it cannot overflow.
    func supportedTime(_ time: Micros, _ field: String) throws {
        guard Time.supported.contains(time) else {
            throw Refuse.malformed(.invalidEvent(field: field), "field '\(field)' must be a time from year 0000 to 9999, got \(time) µs")
        }
    }

    /// A count of days a rule gives, 0 to ``Rules/daysMax``.
    func days(_ value: Int64?, _ field: String, least: Int64 = 0) throws {
        guard let value else { return }
        guard value >= least && value <= Rules.daysMax else {
            throw Refuse.malformed(.invalidEvent(field: "rules.\(field)"), "field 'rules.\(field)' must be \(least) to \(Rules.daysMax) days, got \(value)")
        }
    }

    /// A rate a rule gives, 0 to 100 % (10 000 basis points).
    func rate(_ value: Int64?, _ field: String) throws {
        guard let value else { return }
        guard value >= 0 && value <= 10_000 else {
            throw Refuse.malformed(.invalidEvent(field: "rules.\(field)"), "field 'rules.\(field)' must be 0 to 100 percent, got \(value) basis points")
        }
    }

    /// Every amount a command carries, checked before anything is decided: with each within
    /// ``AmountLimits/amountMax``, no sum the ledger keeps can pass Int64 for millions of
    /// commands (see ``AmountLimits``).
    /// Malformed input is refused here, before anything is decided and without being recorded:
    /// every amount within its range, every time one the engine can hold, the rules' rates and
    /// days within theirs.
    func checkAmounts(_ operation: Command.Operation) throws {
        switch operation {
        case .changeRules(let patch):
            try withinLimit(patch.birthdayBonus ?? 0, "rules.birthdayBonus")
            try withinLimit(patch.welcomeBonus ?? 0, "rules.welcomeBonus")
            try rate(patch.accrualBasisPoints, "accrualPercent")
            try days(patch.pendingDays, "pendingDays")
            try days(patch.lifetimeDays, "lifetimeDays", least: 1)
            try days(patch.levelWindowDays, "levelWindowDays")
            for (k, level) in (patch.levels ?? []).enumerated() {
                try withinLimit(level.threshold, "rules.levels[\(k)].threshold")
                try rate(level.percentBasisPoints, "levels[\(k)].percent")
            }
        case .event(.purchaseMade(let p)):
            try withinLimit(p.total, "total")
            try withinLimit(p.paid, "paid")
            try withinLimit(p.bonusesSpent, "bonusesSpent")
            guard p.paid + p.bonusesSpent <= p.total else {
                throw Refuse.malformed(.invalidAmount(field: "paid"), "field 'paid': paid (\(p.paid)) and bonusesSpent (\(p.bonusesSpent)) add up to more than the total (\(p.total))")
            }
            try checkItems(p.items)
        case .event(.purchaseReturned(let r)):
            try positive(r.amount, "amount")
            try checkItems(r.items)
        case .event(.orderPlaced(let o)):
            try withinLimit(o.amount ?? 0, "amount")
        case .event(.bonusReserveCaptured(let r)), .event(.bonusReserveReleased(let r)):
            try withinLimit(r.amount, "amount")
        case .event(.bonusAccrued(let a)):
            try positive(a.amount, "amount")
            if a.activatesAt != 0 { try supportedTime(a.activatesAt, "activatesAt") }
            if a.customExpiry { try supportedTime(a.expiresAt, "expiresAt") }
        case .event(.bonusWrittenOff(let w)):
            try positive(w.amount, "amount")
        case .event(.bonusReserved(let r)):
            try positive(r.amount, "amount")
        default:
            break
        }
    }

    func checkItems(_ items: [Item]) throws {
        for k in items.indices {
            try withinLimit(items[k].price, "items[\(k)].price")
            let quantity = items[k].quantity
            guard quantity > 0 && quantity <= AmountLimits.quantityMax else {
                throw Refuse.malformed(.invalidAmount(field: "items[\(k)].qty"), "field 'items[\(k)].qty' must be 1 to \(AmountLimits.quantityMax), got \(quantity)")
            }
        }
    }
}
