/// Which clients a segment's filters select, as of a moment (domain.md §6), reading the facts
/// the state keeps for each client.
///
/// The fields whose facts the state does not keep yet (what was bought and where, sellers,
/// promotions, return details, mailings by status, custom events) are refused as not yet
/// evaluated, naming them: a filter on them never answers "nobody" for want of facts.
public struct SegmentEvaluator {
    let state: LedgerState
    /// The day "today" is (0 days ago), and the moment dates are taken at.
    let today: Int64
    /// The segments' filters by name, parsed once (for `memberOf`).
    var definitions: [String: [SegmentFilter]] = [:]

    public init(state: LedgerState, asOf: Micros) {
        self.state = state
        today = Time.day(of: asOf)
        for (name, definition) in state.segmentDefinitions {
            definitions[name] = (try? SegmentFilter.parseList(definition.filters)) ?? []
        }
    }

    /// The fields evaluated today.
    public static func isEvaluated(_ field: FilterField) -> Bool {
        switch field {
        case .name, .gender, .age, .birthday, .birthdaySoon, .messenger, .status, .joinDate, .daysInProgram, .joinPlace,
             .addedBy, .card, .email, .walletInstalled, .level, .bonusesAvailable, .bonusesUsed, .bonusesExpired,
             .nextExpiryDate, .purchaseCount, .purchaseSum, .averageCheck, .maxCheck, .daysBetweenPurchases,
             .purchaseDate, .purchaseDaysAgo, .lastPurchaseDate, .daysWithoutPurchases, .returnCount, .returnSum, .memberOf:
            true
        case .mailingReceived, .promotion, .promoCode, .itemCount, .frequentPlace,
             .lastPlace, .boughtAt, .seller, .boughtProduct, .boughtSku, .boughtCategory, .returnDate, .returnDaysAgo,
             .lastReturnDate, .daysWithoutReturns, .returnedAt, .acceptedBy, .returnedProduct, .returnedSku,
             .returnedCategory, .eventName, .eventDate, .lastEventDate, .daysSinceLastEvent, .eventContext, .eventTimes:
            false
        }
    }

    /// Refuses filters naming a field not evaluated yet, directly or through `memberOf`.
    public func checkEvaluable(_ filters: [SegmentFilter], via path: [String] = []) throws(FilterError) {
        for (k, f) in filters.enumerated() {
            guard Self.isEvaluated(f.field) else {
                let through = path.isEmpty ? "" : " (in segment \(path.joined(separator: " → ")))"
                throw FilterError(filter: k + 1, field: f.field.rawValue,
                                  reason: "\(f.field.rawValue) is not evaluated yet: the state does not keep its facts\(through)")
            }
            if f.field == .memberOf {
                for case .text(let name) in f.values where !path.contains(name) {
                    if let inner = definitions[name] { try checkEvaluable(inner, via: path + [name]) }
                }
            }
        }
    }

    /// The clients the filters select (deleted clients never), ascending by number.
    public func members(_ filters: [SegmentFilter]) throws(FilterError) -> [Int32] {
        try checkEvaluable(filters)
        var out: [Int32] = []
        for i in 0..<state.records.count where !state.records[i].deleted && matches(i, filters) { out.append(Int32(i)) }
        return out
    }

    /// Whether client `i` passes every filter.
    public func matches(_ i: Int, _ filters: [SegmentFilter], depth: Int = 0) -> Bool {
        filters.allSatisfy { f in matches(i, f, depth: depth) != f.exclude }
    }

    /// Whether client `i` matches one filter (before `exclude`).
    func matches(_ i: Int, _ f: SegmentFilter, depth: Int) -> Bool {
        let r = state.records[i]
        switch f.field {
        case .name: return text(state.profile(i).name, f)
        case .gender: return text(r.gender?.rawValue, f)
        case .age: return r.birthday.map { number(age(birthday: $0), f) } ?? false
        case .birthday: return r.birthday.map { monthDay($0, f) } ?? false
        case .birthdaySoon: return r.birthday.map { number(daysToBirthday($0), f) } ?? false
        case .messenger:
            return f.values.contains { v in
                guard case .text(let name) = v, let c = Channel.allCases.firstIndex(where: { $0.rawValue == name }) else { return false }
                return r.channels[c]?.subscribed == true
            }
        case .status: return text((r.blocked ? ParticipationStatus.blocked : r.status).rawValue, f)
        case .joinDate: return day(Time.day(of: r.registeredAt), f)
        case .daysInProgram: return number(today - Time.day(of: r.registeredAt), f)
        case .joinPlace: return text(state.profile(i).place, f)
        case .addedBy: return text(state.profile(i).addedBy, f)
        case .card: return state.profile(i).cards.contains { text($0, f) }
        case .email: return text(state.profile(i).email, f)
        case .walletInstalled: return f.values.first == .flag(r.walletBits != 0)
        case .level: return text(state.level(i), f)
        case .bonusesAvailable: return number(r.balances.available, f)
        case .bonusesUsed: return number(r.balances.used, f)
        case .bonusesExpired: return number(r.balances.expired, f)
        case .nextExpiryDate:
            let next = state.lots(of: i).filter { $0.remaining > 0 }.map(\.expiresAt).min()
            return next.map { day(Time.day(of: $0), f) } ?? false
        case .purchaseCount: return number(r.stats.purchaseCount, f)
        case .purchaseSum: return number(r.stats.purchaseSum, f)
        case .averageCheck: return r.stats.purchaseCount > 0 && number(r.stats.averageCheck, f)
        case .maxCheck: return r.stats.purchaseCount > 0 && number(r.stats.maxCheck, f)
        case .daysBetweenPurchases:
            guard let last = r.stats.lastPurchaseAt, r.stats.purchaseCount > 0 else { return false }
            return number((Time.day(of: last) - Time.day(of: r.registeredAt)) / r.stats.purchaseCount, f)
        case .purchaseDate: return purchaseDays(r).contains { day($0, f) }
        case .purchaseDaysAgo: return purchaseDays(r).contains { number(today - $0, f) }
        case .lastPurchaseDate: return r.stats.lastPurchaseAt.map { day(Time.day(of: $0), f) } ?? false
        case .daysWithoutPurchases: return number(today - Time.day(of: r.stats.lastPurchaseAt ?? r.registeredAt), f)
        case .returnCount: return number(r.stats.returnCount, f)
        case .returnSum: return number(r.stats.returnSum, f)
        case .memberOf:
            let recorded = state.segments(of: i)
            return f.values.contains { v in
                guard case .text(let name) = v else { return false }
                // A defined segment is its filters; one only assigned is its recorded members.
                if let inner = definitions[name], depth < 64 { return matches(i, inner, depth: depth + 1) }
                return recorded.contains(name)
            }
        default:
            return false   // (refused by checkEvaluable before any client is looked at)
        }
    }

    /// The days of a client's purchases (its purchase list), up to today.
    func purchaseDays(_ r: ClientRecord) -> [Int64] {
        var days: [Int64] = []
        var k = r.firstPurchase
        while k >= 0 {
            let p = state.purchaseStates[Int(k)]
            let d = Time.day(of: p.at)
            if d <= today { days.append(d) }
            k = p.next
        }
        return days
    }

    // MARK: comparisons

    func text(_ value: String?, _ f: SegmentFilter) -> Bool {
        guard let value else { return false }
        return f.values.contains { v in
            guard case .text(let wanted) = v else { return false }
            return f.op == .contains ? value.lowercased().contains(wanted.lowercased()) : value == wanted
        }
    }

    func number(_ value: Int64, _ f: SegmentFilter) -> Bool {
        let bounds = f.values.compactMap { v -> Int64? in if case .number(let n) = v { n } else { nil } }
        return compare(value, bounds, f.op)
    }

    func day(_ value: Int64, _ f: SegmentFilter) -> Bool {
        let bounds = f.values.compactMap { v -> Int64? in if case .day(let d) = v { d } else { nil } }
        return compare(value, bounds, f.op)
    }

    func compare(_ value: Int64, _ bounds: [Int64], _ op: FilterOperator) -> Bool {
        switch op {
        case .eq, .in, .contains: bounds.contains(value)
        case .gte: bounds.first.map { value >= $0 } ?? false
        case .lte: bounds.first.map { value <= $0 } ?? false
        case .between: bounds.count == 2 && value >= bounds[0] && value <= bounds[1]
        }
    }

    /// A birthday against dates of any year: by month and day; a range may wrap the new year.
    func monthDay(_ birthday: Int64, _ f: SegmentFilter) -> Bool {
        func key(_ day: Int64) -> Int64 { let c = Time.civil(days: day); return c.month * 32 + c.day }
        let k = key(birthday)
        let bounds = f.values.compactMap { v -> Int64? in if case .day(let d) = v { key(d) } else { nil } }
        if f.op == .between, bounds.count == 2, bounds[0] > bounds[1] { return k >= bounds[0] || k <= bounds[1] }
        return compare(k, bounds, f.op)
    }

    /// Full years on `today`.
    func age(birthday: Int64) -> Int64 {
        let b = Time.civil(days: birthday), t = Time.civil(days: today)
        return t.year - b.year - ((t.month, t.day) < (b.month, b.day) ? 1 : 0)
    }

    /// Days until the next birthday (0: today); 29 February is the 28th in other years.
    func daysToBirthday(_ birthday: Int64) -> Int64 {
        let b = Time.civil(days: birthday), t = Time.civil(days: today)
        func on(_ year: Int64) -> Int64 { Time.days(year: year, month: b.month, day: min(b.day, Time.daysInMonth(year: year, month: b.month))) }
        let this = on(t.year)
        return this >= today ? this - today : on(t.year + 1) - today
    }
}
