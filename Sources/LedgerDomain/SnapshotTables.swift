import LedgerStorage
import LedgerBytes

/// The snapshot sections of the purchases, the rarer client
/// tables and the schedule (data-format.md §13.3, sections 8, 11 and 12).
extension LedgerState {
    // MARK: purchases and returns

    func writePurchases(_ e: SectionEncoder) {
        purchaseIDs.write(to: e)
        e.putChunkedRows(count: purchaseStates.count, width: 32, chunkRows: ChunkedArray<StoredPurchase>.elementsPerChunk) { k, row in
            Self.writePurchaseRow(purchaseStates[k], row)
        }
        let wide = widePurchases.sorted { $0.key < $1.key }
        e.putArray(wide.map(\.key))
        e.putArray(wide.map(\.value.paid))
        e.putArray(wide.map(\.value.accrued))
        purchaseSpent.write(to: e)
        let totals = returnTotals.sorted { $0.key < $1.key }
        e.putArray(totals.map(\.key))
        e.putArray(totals.map(\.value.returnedPaid))
        e.putArray(totals.map(\.value.clawedBack))
        e.putArray(totals.map(\.value.refunded))
        let returns = returns.sorted { ($0.key.purchase, $0.key.returnID) < ($1.key.purchase, $1.key.returnID) }
        e.put(UInt64(returns.count))
        for (key, range) in returns {
            e.put(key.purchase)
            e.putText(key.returnID)
            e.put(range.lowerBound)
            e.put(range.upperBound)
        }
    }

    static func writePurchaseRow(_ p: StoredPurchase, _ row: UnsafeMutableRawBufferPointer) {
        row.put(p.client, 0)
        row.put(p.next, 4)
        row.put(p.at, 8)
        row.put(p.word, 16)
        row.put(p.paid, 24)
        row.put(p.accrued, 28)
    }

    /// Whether a purchase row is the purchase as it lies in memory (see ``clientRowsMap``).
    static let purchaseRowsMap = rowsMatchMemory(
        StoredPurchase(client: 0x0102_0304, next: 0x1112_1314, at: 0x2122_2324_2526_2728, word: 0x3132_3334_3536_3738,
                       paid: 0x4142_4344, accrued: 0x5152_5354),
        width: 32, writePurchaseRow)

    mutating func readPurchases(_ d: inout SectionDecoder, owner: AnyObject?) throws(SectionError) {
        purchaseIDs = try IdTable(from: &d, groupSize: 16, "purchase ids")
        let (count, bytes) = try d.getChunkedRows("purchases", width: 32, chunkRows: ChunkedArray<StoredPurchase>.elementsPerChunk)
        let clients = Int32(records.count)
        let mapping = owner != nil && count > 0 && Self.purchaseRowsMap
        var states = ChunkedArray<StoredPurchase>()
        for k in 0..<count {
            let row = RowReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[(k * 32)..<((k + 1) * 32)]))
            let p = StoredPurchase(client: row.get(Int32.self, 0), next: row.get(Int32.self, 4), at: row.get(Int64.self, 8),
                                   word: row.get(UInt64.self, 16), paid: row.get(UInt32.self, 24), accrued: row.get(UInt32.self, 28))
            guard (0..<clients).contains(p.client), p.next == -1 || (p.next > Int32(k) && Int(p.next) < count) else {
                throw d.fail("purchase \(k) names a client or next purchase that is not there")
            }
            if !mapping { states.append(p) }
        }
        if mapping, let owner { states = ChunkedArray(mapping: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: count, owner: owner) }
        guard states.count == purchaseIDs.count else { throw d.fail("\(states.count) purchases for \(purchaseIDs.count) ids") }
        purchaseStates = states
        let wideKeys = try d.getArray(Int32.self, "wide purchases")
        let paid = try d.getArray(Int64.self, "wide purchases' paid")
        let accrued = try d.getArray(Int64.self, "wide purchases' accrued")
        guard wideKeys.count == paid.count, paid.count == accrued.count,
              wideKeys.allSatisfy({ $0 >= 0 && Int($0) < states.count && states[Int($0)].isWide }) else { throw d.fail("the wide purchases do not match") }
        widePurchases = Dictionary(uniqueKeysWithValues: zip(wideKeys, zip(paid, accrued).map { (paid: $0.0, accrued: $0.1) }))
        for k in states.indices where states[k].isWide && widePurchases[Int32(k)] == nil { throw d.fail("wide purchase \(k) has no amounts") }
        purchaseSpent = try AscendingValues(from: &d, "bonuses spent")
        let keys = try d.getArray(Int32.self, "purchases with returns")
        let returned = try d.getArray(Int64.self, "returned money")
        let clawed = try d.getArray(Int64.self, "bonuses clawed back")
        let refunded = try d.getArray(Int64.self, "bonuses refunded")
        guard keys.count == returned.count, keys.count == clawed.count, keys.count == refunded.count,
              keys.first.map({ $0 >= 0 }) ?? true, keys.last.map({ Int($0) < states.count }) ?? true,
              zip(keys, keys.dropFirst()).allSatisfy({ $0 < $1 }) else { throw d.fail("the return totals do not match (or are not in ascending order)") }
        returnTotals = [:]
        returnTotals.reserveCapacity(keys.count)
        for k in keys.indices {
            var t = ReturnTotals()
            t.returnedPaid = returned[k]
            t.clawedBack = clawed[k]
            t.refunded = refunded[k]
            returnTotals[keys[k]] = t
        }
        returns = [:]
        let returnCount = try d.getCount("returns", width: 24)
        returns.reserveCapacity(returnCount)
        for k in 0..<returnCount {
            let purchase = try d.get(Int32.self, "return \(k)'s purchase")
            let id = try d.getText("return \(k)'s id")
            let lower = try d.get(UInt64.self, "return \(k)'s first event")
            let upper = try d.get(UInt64.self, "return \(k)'s last event")
            guard purchase >= 0, Int(purchase) < states.count, lower <= upper else { throw d.fail("return \(k) names no purchase or an empty range") }
            returns[ReturnKey(purchase, id)] = lower...upper
        }
    }

    // MARK: NPS, notes, birthdays

    func writeExtras(_ e: SectionEncoder) {
        clientNPS.write(to: e)
        clientNotes.write(to: e)
        let birthdays = birthdays.sorted { $0.key < $1.key }
        e.put(UInt64(birthdays.count))
        for (day, clients) in birthdays {
            e.put(Int64(day))
            e.putArray(clients)
        }
    }

    mutating func readExtras(_ d: inout SectionDecoder, texts: [[UInt64]]) throws(SectionError) {
        clientNPS = try ClientEntries(from: &d, clients: records.count, texts: texts, "NPS")
        clientNotes = try ClientEntries(from: &d, clients: records.count, texts: texts, "notes")
        birthdays = [:]
        for k in 0..<(try d.getCount("birthdays", width: 16)) {
            let day = try d.get(Int64.self, "birthday \(k)'s day")
            let clients = try d.getArray(Int32.self, "birthday \(k)'s clients")
            guard (0..<(13 * 32)).contains(day), clients.allSatisfy({ $0 >= 0 && Int($0) < records.count }) else {
                throw d.fail("birthday \(k) names no day or no client")
            }
            birthdays[Int(day)] = clients
        }
    }

    // MARK: the due-time schedule

    /// The schedule as a rebuild's end makes it: every open lot due before the horizon after
    /// the last event, sorted by due time, lot and client.
    func writeSchedule(_ e: SectionEncoder) {
        let horizon = lastEventAt == .min ? Micros.min : Schedule.horizon(after: lastEventAt)
        var due = lastEventAt == .min ? [] : dueEntries(from: .min, before: horizon)
        due.sort { ($0.due, $0.lot, $0.client) < ($1.due, $1.lot, $1.client) }
        e.put(horizon)
        e.putRows(count: due.count, width: 16) { k, row in
            row.put(due[k].due, 0)
            row.put(due[k].client, 8)
            row.put(due[k].lot, 12)
        }
    }

    mutating func readSchedule(_ d: inout SectionDecoder) throws(SectionError) {
        let horizon = try d.get(Int64.self, "the schedule's horizon")
        var due: [Schedule.Entry] = []
        let clients = Int32(records.count)
        let fail = d.fail
        try d.getRows("due lots", width: 16) { k, row throws(SectionError) in
            var entry = Schedule.Entry(due: row.get(Int64.self, 0), client: row.get(Int32.self, 8), lot: 0)
            entry.lot = row.get(UInt32.self, 12)
            guard (0..<clients).contains(entry.client), entry.due < horizon else { throw fail("due lot \(k) names no client or falls past the horizon") }
            due.append(entry)
        }
        schedule.removeAll()
        schedule.add(&due)
        schedule.horizon = horizon
    }
}
