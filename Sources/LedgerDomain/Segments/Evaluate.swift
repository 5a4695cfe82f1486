import LedgerStorage

/// Which clients a segment's filters select, as of a moment (domain.md §6), reading the facts
/// the state keeps for each client: its record, and the part beside it that keeps receipts,
/// returns, custom events and mailing statuses (``ClientFacts``).
public struct SegmentEvaluator {
    let state: LedgerState
    /// The client records (the state's), read field by field.
    let records: ChunkedArray<ClientRecord>
    /// The day "today" is (0 days ago), and the moment dates are taken at.
    let today: Int64
    /// The segments' filters by name, parsed once (for `memberOf`).
    var definitions: [String: [SegmentFilter]] = [:]
    /// The same, compiled.
    var compiledDefinitions: [String: [Compiled]] = [:]
    /// The defined segments whose filters this build cannot read, and why.
    var unreadable: [String: FilterError] = [:]

    /// A filter with its values taken apart once, so that a client is compared without
    /// allocating anything.
    final class Compiled: Sendable {
        let filter: SegmentFilter
        /// The filter's field, operator and exclusion, read without touching its values.
        let field: FilterField
        let op: FilterOperator
        let exclude: Bool
        /// The product filters before it in its list that narrow it (``FilterField/isNarrowed``).
        let narrowing: [Compiled]
        /// `mailingReceived`: the statuses asked about, 1 (received) to 4 (goal reached).
        let mailingStatuses: [UInt8]
        /// Numbers and days, in the order given.
        let bounds: [Int64]
        let texts: [String]
        /// The texts lowercased (`contains`).
        let lowered: [String]
        /// `messenger`: the channels' indexes.
        let channels: [Int]
        /// `gender`: the record's gender codes (1 + the case's index); `status`: the statuses.
        let genderCodes: [UInt8]
        let statuses: [ParticipationStatus]
        /// `status`: the statuses' indexes, as ``RecordColumns/traits`` holds them.
        let statusCodes: [UInt8]

        init(_ f: SegmentFilter, narrowing: [Compiled] = []) {
            filter = f
            field = f.field
            op = f.op
            exclude = f.exclude
            self.narrowing = f.field.isNarrowed ? narrowing : []
            if case .choice(let names) = FilterField.mailingReceived.valueType, f.field == .mailingReceived {
                mailingStatuses = f.values.compactMap { v -> UInt8? in
                    if case .text(let s) = v, let k = names.firstIndex(of: s) { UInt8(k + 1) } else { nil }
                }
            } else {
                mailingStatuses = []
            }
            bounds = f.values.compactMap { v -> Int64? in
                switch v { case .number(let n): n; case .day(let d): d; default: nil }
            }
            texts = f.values.compactMap { v -> String? in if case .text(let s) = v { s } else { nil } }
            lowered = texts.map { $0.lowercased() }
            channels = texts.compactMap { name in Channel.allCases.firstIndex { $0.rawValue == name } }
            genderCodes = texts.compactMap { name in Gender.allCases.firstIndex { $0.rawValue == name }.map { UInt8($0 + 1) } }
            statuses = texts.compactMap(ParticipationStatus.init(rawValue:))
            statusCodes = statuses.map { UInt8(ParticipationStatus.allCases.firstIndex(of: $0)!) }
        }

        /// A segment's filters compiled, each purchase filter with the product filters before
        /// it that narrow it.
        static func list(_ filters: [SegmentFilter]) -> [Compiled] {
            var narrowing: [Compiled] = []
            return filters.map { f in
                let c = Compiled(f, narrowing: narrowing)
                if f.field.isBoughtProduct && !f.exclude { narrowing.append(c) }
                return c
            }
        }
    }

    public init(state: LedgerState, asOf: Micros) {
        self.state = state
        records = state.records
        today = Time.day(of: asOf)
        // Parsed and compiled once, as definitions are recorded (``SegmentMembership/compile()``).
        definitions = state.parts.segments.parsed
        compiledDefinitions = state.parts.segments.compiled
        unreadable = state.parts.segments.unreadable
    }

    /// Defines (or redefines) segment `name` for this evaluation only (a rebuild's definitions).
    public mutating func define(_ name: String, _ filters: [SegmentFilter]) {
        definitions[name] = filters
        compiledDefinitions[name] = Compiled.list(filters)
        unreadable[name] = nil
    }

    /// A defined segment's filters, or why they cannot be read.
    public func filters(of name: String) throws(FilterError) -> [SegmentFilter] {
        if let error = unreadable[name] { throw error }
        guard let filters = definitions[name] else { throw FilterError(filter: 0, field: "memberOf", reason: "no segment '\(name)' is defined") }
        return filters
    }

    /// Refuses filters naming, directly or through `memberOf`, a segment whose recorded
    /// filters this build cannot read.
    public func checkEvaluable(_ filters: [SegmentFilter], via path: [String] = []) throws(FilterError) {
        for (k, f) in filters.enumerated() {
            if f.field == .memberOf {
                for case .text(let name) in f.values {
                    if let error = unreadable[name] {
                        throw FilterError(filter: k + 1, field: f.field.rawValue, reason: "segment \(name)'s filters cannot be read: \(error.description)")
                    }
                }
                for case .text(let name) in f.values where !path.contains(name) {
                    if let inner = definitions[name] { try checkEvaluable(inner, via: path + [name]) }
                }
            }
        }
    }

    /// The clients the filters select (deleted clients never), ascending by number.
    /// `among`: only these clients (ascending numbers; nil: all).
    public func members(_ filters: [SegmentFilter], among: [Int32]? = nil) throws(FilterError) -> [Int32] {
        try checkEvaluable(filters)
        // A filter at a time over the clients the filters before it kept: each pass is one
        // tight loop over one fact, and the candidates shrink as the filters go.
        var candidates: [Int32] = []
        if let among {
            candidates = among.filter { !records[inPlace: Int($0)].deleted }
        } else {
            let traits = state.columns.traits
            candidates.reserveCapacity(traits.count)
            for i in 0..<traits.count where traits[i] & RecordColumns.deletedBit == 0 { candidates.append(Int32(i)) }
        }
        let compiled = Compiled.list(filters)
        let m = { var m = matcher; m.resolved = FilterMatcher.resolving(compiled, compiledDefinitions, state.parts.facts); return m }()
        for c in compiled where !scanColumn(c, &candidates) {
            candidates.removeAll { i in m.matches(state, Int(i), c, depth: 0) == c.exclude }
        }
        return candidates
    }

    /// Whether client `i` passes every filter.
    public func matches(_ i: Int, _ filters: [SegmentFilter]) -> Bool {
        matches(i, Compiled.list(filters), depth: 0)
    }

    func matches(_ i: Int, _ filters: [Compiled], depth: Int) -> Bool { matcher.matches(state, i, filters, depth: depth) }
    func matches(_ i: Int, _ c: Compiled, depth: Int) -> Bool { matcher.matches(state, i, c, depth: depth) }
    var matcher: FilterMatcher { FilterMatcher(today: today, compiledDefinitions: compiledDefinitions) }
}

/// Whether a client matches compiled filters as of a day, reading the state it is handed
/// (borrowed: dynamic membership checks one client in a state it is about to change, and must
/// not hold a copy of it).
struct FilterMatcher {
    typealias Compiled = SegmentEvaluator.Compiled
    /// The day "today" is (0 days ago).
    let today: Int64
    /// The defined segments' filters, compiled (for `memberOf`).
    let compiledDefinitions: [String: [Compiled]]
    /// The names text filters on ``ClientFacts`` match, resolved once for a whole evaluation
    /// (by filter; a filter not here is resolved as it is read).
    var resolved: [ObjectIdentifier: Set<Int32>] = [:]

    func matches(_ s: borrowing LedgerState, _ i: Int, _ filters: [Compiled], depth: Int) -> Bool {
        for c in filters where matches(s, i, c, depth: depth) == c.exclude { return false }
        return true
    }

    /// Whether client `i` matches one filter (before `exclude`). Each fact is read where it lies
    /// in the client's record (a field, not the whole record).
    // swiftlint:disable:next cyclomatic_complexity
    func matches(_ s: borrowing LedgerState, _ i: Int, _ c: Compiled, depth: Int) -> Bool {
        switch c.field {
        case .name: return text(s.profile(i).name, c)
        case .gender: return c.genderCodes.contains(s.columns.traits[i] & 3)   // (no gender: code 0, never listed)
        case .age: return s.records[inPlace: i].birthday.map { number(age(birthday: $0), c) } ?? false
        case .birthday: return s.records[inPlace: i].birthday.map { monthDay($0, c) } ?? false
        case .birthdaySoon: return s.records[inPlace: i].birthday.map { number(daysToBirthday($0), c) } ?? false
        case .messenger: return c.channels.contains { s.records[inPlace: i].channels[$0]?.subscribed == true }
        case .status: return c.statusCodes.contains(s.columns.traits[i] >> 2 & 3)
        case .joinDate: return number(Int64(s.columns.registeredDays[i]), c)
        case .daysInProgram: return number(today - Int64(s.columns.registeredDays[i]), c)
        case .joinPlace: return text(s.profile(i).place, c)
        case .addedBy: return text(s.profile(i).addedBy, c)
        case .card: return s.profile(i).cards.contains { text($0, c) }
        case .email: return text(s.profile(i).email, c)
        case .walletInstalled: return c.filter.values.first == .flag(s.records[inPlace: i].walletBits != 0)
        case .level: return text(s.level(i), c)
        case .bonusesAvailable: return number(s.columns.available[i], c)
        case .bonusesUsed: return number(s.records[inPlace: i].balances.used, c)
        case .bonusesExpired: return number(s.records[inPlace: i].balances.expired, c)
        case .nextExpiryDate:
            let next = s.lots(of: i).filter { $0.remaining > 0 }.map(\.expiresAt).min()
            return next.map { number(Time.day(of: $0), c) } ?? false
        case .purchaseCount where c.narrowing.isEmpty: return number(Int64(s.columns.purchaseCounts[i]), c)
        case .purchaseSum where c.narrowing.isEmpty: return number(s.columns.purchaseSums[i], c)
        case .averageCheck: return s.records[inPlace: i].stats.purchaseCount > 0 && number(s.records[inPlace: i].stats.averageCheck, c)
        case .maxCheck: return s.records[inPlace: i].stats.purchaseCount > 0 && number(s.records[inPlace: i].stats.maxCheck, c)
        case .daysBetweenPurchases:
            guard let last = s.records[inPlace: i].stats.lastPurchaseAt, s.records[inPlace: i].stats.purchaseCount > 0 else { return false }
            return number((Time.day(of: last) - Time.day(of: s.records[inPlace: i].registeredAt)) / s.records[inPlace: i].stats.purchaseCount, c)
        case .purchaseDate: return purchaseDays(s, i).contains { number($0, c) }
        case .purchaseDaysAgo: return purchaseDays(s, i).contains { number(today - $0, c) }
        case .lastPurchaseDate:
            let day = s.columns.lastPurchaseDays[i]
            return day != RecordColumns.noDay && number(Int64(day), c)
        case .daysWithoutPurchases:
            let day = s.columns.lastPurchaseDays[i]
            return number(today - Int64(day != RecordColumns.noDay ? day : s.columns.registeredDays[i]), c)
        case .returnCount: return number(s.records[inPlace: i].stats.returnCount, c)
        case .returnSum: return number(s.records[inPlace: i].stats.returnSum, c)
        case .memberOf:
            return c.texts.contains { name in
                // A defined segment is its filters; one only assigned is its recorded members.
                if let inner = compiledDefinitions[name], depth < 64 { return matches(s, i, inner, depth: depth + 1) }
                return s.segments(of: i).contains(name)
            }
        default:
            return matchesFact(s.parts.facts, i, c)
        }
    }

    /// The days of a client's purchases (its purchase list), up to today.
    func purchaseDays(_ s: borrowing LedgerState, _ i: Int) -> [Int64] {
        var days: [Int64] = []
        var k = s.records[inPlace: i].firstPurchase
        while k >= 0 {
            let p = s.purchaseStates[Int(k)]
            let d = Time.day(of: p.at)
            if d <= today { days.append(d) }
            k = p.next
        }
        return days
    }

    // MARK: comparisons

    func text(_ value: String?, _ c: Compiled) -> Bool {
        guard let value else { return false }
        if c.op == .contains {
            let lowered = value.lowercased()
            return c.lowered.contains { lowered.contains($0) }
        }
        return c.texts.contains(value)
    }

    @inline(__always)
    func number(_ value: Int64, _ c: Compiled) -> Bool { compare(value, c.bounds, c.op) }

    func compare(_ value: Int64, _ bounds: [Int64], _ op: FilterOperator) -> Bool {
        switch op {
        case .eq, .in, .contains: bounds.contains(value)
        case .gte: bounds.first.map { value >= $0 } ?? false
        case .lte: bounds.first.map { value <= $0 } ?? false
        case .between: bounds.count == 2 && value >= bounds[0] && value <= bounds[1]
        }
    }

    /// A birthday against dates of any year: by month and day; a range may wrap the new year.
    func monthDay(_ birthday: Int64, _ c: Compiled) -> Bool {
        func key(_ day: Int64) -> Int64 { let d = Time.civil(days: day); return d.month * 32 + d.day }
        let k = key(birthday)
        let bounds = c.bounds.map(key)
        if c.op == .between, bounds.count == 2, bounds[0] > bounds[1] { return k >= bounds[0] || k <= bounds[1] }
        return compare(k, bounds, c.op)
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
