import LedgerStorage

/// The filters that read ``ClientFacts``: what was bought and returned and where, promotions
/// and promo codes, single purchase and return days, mailings by status, custom events.
///
/// A text filter is resolved once to the numbers of the names it matches (`eq`/`in`: the
/// names given; `contains`: every interned name holding one of the values, ignoring case), and
/// a client is then compared by numbers.
///
/// Dependent product filters (domain.md §6, the seeds' «Что покупал» then «Количество
/// позиций»): a `boughtProduct`, `boughtSku` or `boughtCategory` filter that does not exclude
/// narrows the `purchaseCount`, `itemCount`, `purchaseSum` and product filters after it to
/// the items it matches: a purchase counts when one of its items matches every product filter
/// before, an item counts when it does, and a purchase's sum is the share of what was paid
/// that the matching items' amounts (price × quantity) are of its total.
extension FilterField {
    /// The product filters that narrow the purchase filters after them.
    var isBoughtProduct: Bool { self == .boughtProduct || self == .boughtSku || self == .boughtCategory }

    /// The filters a product filter before them narrows.
    var isNarrowed: Bool { isBoughtProduct || self == .purchaseCount || self == .itemCount || self == .purchaseSum }

    /// Whether its values are names ``ClientFacts`` interns.
    var readsNames: Bool {
        switch self {
        case .promotion, .promoCode, .boughtAt, .seller, .boughtProduct, .boughtSku, .boughtCategory, .returnedAt, .acceptedBy,
             .returnedProduct, .returnedSku, .returnedCategory, .eventName, .eventContext, .eventTimes:
            true
        default:
            false
        }
    }
}

extension ClientFacts {
    /// The numbers of the names filter `c` matches (``FilterField/eventTimes``: its event's).
    /// (`contains`: among the names from number `start` on.)
    func resolve(_ c: SegmentEvaluator.Compiled, from start: Int = 0) -> Set<Int32> {
        if c.filter.field == .eventTimes { return Set(c.filter.event.flatMap(number(of:)).map { [$0] } ?? []) }
        if c.op == .contains {
            var found = Set<Int32>()
            for k in start..<names.count where c.lowered.contains(where: { names.lowered[k].contains($0) }) { found.insert(Int32(k)) }
            return found
        }
        return Set(c.texts.compactMap(number(of:)))
    }

    /// The name a product filter on `field` compares.
    @inline(__always)
    func component(_ field: FilterField, _ line: Line) -> Int32 {
        let p = products[Int(line.product)]
        switch field {
        case .boughtSku, .returnedSku: return p.sku
        case .boughtCategory, .returnedCategory: return p.category
        default: return p.name
        }
    }
}

extension FilterMatcher {
    /// The resolved names of filter `c` (prepared for a whole evaluation, or resolved now).
    @inline(__always)
    func names(_ c: Compiled, _ f: borrowing ClientFacts) -> Set<Int32> { resolved[ObjectIdentifier(c)] ?? f.resolve(c) }

    /// Names resolved once for these filters and every defined segment's.
    static func resolving(_ filters: [Compiled], _ definitions: [String: [Compiled]], _ f: borrowing ClientFacts) -> [ObjectIdentifier: Set<Int32>] {
        var resolved: [ObjectIdentifier: Set<Int32>] = [:]
        for c in filters + definitions.values.joined() where c.filter.field.readsNames { resolved[ObjectIdentifier(c)] = f.resolve(c) }
        return resolved
    }

    /// Whether `line` matches every product filter in `narrowing` (each with its names).
    func passes(_ line: ClientFacts.Line, _ narrowing: [(field: FilterField, names: Set<Int32>)], _ f: borrowing ClientFacts) -> Bool {
        for n in narrowing where !n.names.contains(f.component(n.field, line)) { return false }
        return true
    }

    /// Client `i`'s match of a filter on a fact of ``ClientFacts`` (before `exclude`).
    // swiftlint:disable:next cyclomatic_complexity
    func matchesFact(_ f: borrowing ClientFacts, _ i: Int, _ c: Compiled) -> Bool {
        guard i < f.columns.count else { return false }
        let column = f.columns[i]
        switch c.field {
        case .mailingReceived:
            let kinds: [UInt8] = c.filter.kind.map { [$0 == .manual ? 0 : 4] } ?? [0, 4]
            return c.mailingStatuses.contains { status in kinds.contains { (column.mailings >> $0) & 0xF >= status } }
        case .promotion, .promoCode, .boughtAt, .seller:
            let wanted = names(c, f)
            return anyReceipt(f.purchases, from: column.purchase) { r in
                wanted.contains(c.field == .promotion ? r.promotion : c.field == .promoCode ? r.promoCode : c.field == .boughtAt ? r.store : r.person)
            }
        case .purchaseCount, .purchaseSum, .itemCount, .boughtProduct, .boughtSku, .boughtCategory:
            return narrowedPurchases(f, column, c)
        case .frequentPlace: return names(c, f).contains(f.frequentStore(from: column.purchase))
        case .lastPlace: return column.purchase >= 0 && names(c, f).contains(f.purchases[Int(column.purchase)].store)
        case .returnDate: return anyReceipt(f.returns, from: column.refund) { r in Int64(r.day) <= today && number(Int64(r.day), c) }
        case .returnDaysAgo: return anyReceipt(f.returns, from: column.refund) { r in Int64(r.day) <= today && number(today - Int64(r.day), c) }
        case .lastReturnDate: return lastDay(f.returns, from: column.refund).map { number($0, c) } ?? false
        case .daysWithoutReturns: return lastDay(f.returns, from: column.refund).map { number(today - $0, c) } ?? false
        case .returnedAt: let wanted = names(c, f); return anyReceipt(f.returns, from: column.refund) { wanted.contains($0.store) }
        case .acceptedBy: let wanted = names(c, f); return anyReceipt(f.returns, from: column.refund) { wanted.contains($0.person) }
        case .returnedProduct, .returnedSku, .returnedCategory:
            let wanted = names(c, f)
            var k = column.refund
            while k >= 0 {
                for line in f.lines(of: Int(k), in: f.returns) where wanted.contains(f.component(c.field, f.returnLines[line])) { return true }
                k = f.returns[Int(k)].previous
            }
            return false
        default:
            return matchesEvent(f, column, c)
        }
    }

    /// The custom event filters.
    func matchesEvent(_ f: borrowing ClientFacts, _ column: ClientFacts.Column, _ c: Compiled) -> Bool {
        var newest: Int64? = nil
        var count: Int64 = 0
        let wanted = c.field == .eventName || c.field == .eventContext || c.field == .eventTimes ? names(c, f) : []
        let from = today - (c.filter.withinDays ?? 0)
        var k = column.happening
        while k >= 0 {
            let h = f.happenings[Int(k)]
            let day = Int64(h.day)
            switch c.field {
            case .eventName: if wanted.contains(h.name) { return true }
            case .eventDate: if day <= today && number(day, c) { return true }
            case .eventContext:
                for x in f.contextRange(of: Int(k)) where wanted.contains(f.contexts[x]) { return true }
            case .eventTimes: if wanted.contains(h.name) && day >= from && day <= today { count += 1 }
            default: newest = max(newest ?? day, day)
            }
            k = h.previous
        }
        switch c.field {
        case .eventTimes: return number(count, c)
        case .lastEventDate: return newest.map { number($0, c) } ?? false
        case .daysSinceLastEvent: return newest.map { number(today - $0, c) } ?? false
        default: return false
        }
    }

    /// `purchaseCount`, `purchaseSum`, `itemCount` and the product filters, over the items the
    /// product filters before them (and a product filter itself) match.
    func narrowedPurchases(_ f: borrowing ClientFacts, _ column: ClientFacts.Column, _ c: Compiled) -> Bool {
        let own = c.field.isBoughtProduct ? names(c, f) : []
        // (Each narrowing filter's names looked up once, not once a line.)
        let narrowing = c.narrowing.map { (field: $0.field, names: names($0, f)) }
        var purchases: Int64 = 0, items: Int64 = 0, sum: Int64 = 0
        var k = column.purchase
        while k >= 0 {
            let r = f.purchases[Int(k)]
            var matched = false
            var amount: Int64 = 0
            for x in f.lines(of: Int(k), in: f.purchases) {
                let line = f.purchaseLines[x]
                guard passes(line, narrowing, f) else { continue }
                if c.field.isBoughtProduct {
                    if own.contains(f.component(c.field, line)) { return true }
                    continue
                }
                matched = true
                items = items.addingClamped(Int64(line.quantity))
                amount = amount.addingClamped(line.amount)
            }
            if matched {
                purchases += 1
                sum = sum.addingClamped(ClientFacts.share(amount, of: r.total, paid: r.paid))
            }
            k = r.previous
        }
        switch c.field {
        case .purchaseCount: return number(purchases, c)
        case .itemCount: return number(items, c)
        case .purchaseSum: return number(sum, c)
        default: return false   // (a product filter none of whose items matched)
        }
    }

    func anyReceipt(_ receipts: ChunkedArray<ClientFacts.Receipt>, from newest: Int32, _ test: (ClientFacts.Receipt) -> Bool) -> Bool {
        var k = newest
        while k >= 0 {
            let r = receipts[Int(k)]
            if test(r) { return true }
            k = r.previous
        }
        return false
    }

    func lastDay(_ receipts: ChunkedArray<ClientFacts.Receipt>, from newest: Int32) -> Int64? {
        var k = newest
        var last: Int64? = nil
        while k >= 0 {
            let r = receipts[Int(k)]
            last = max(last ?? Int64(r.day), Int64(r.day))
            k = r.previous
        }
        return last
    }
}

extension ClientFacts {
    /// The part of `paid` that `amount` is of `total` (all of it when the amount covers the
    /// total; rounded down).
    static func share(_ amount: Int64, of total: Int64, paid: Int64) -> Int64 {
        guard amount < total, total > 0, paid > 0 else { return amount >= total ? paid : 0 }
        let product = paid.multipliedFullWidth(by: max(0, amount))
        return total.dividingFullWidth(product).quotient   // (amount < total: the quotient is below paid)
    }
}

extension Int64 {
    /// The sum, held at the largest value rather than overflowing.
    func addingClamped(_ other: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}
