/// The state changes of the most frequent events and the caches beside them (lots, purchases,
/// level windows, the schedule, channels, orders, profiles), shared by `apply(_:)` and the
/// byte-level replay, so the two cannot differ.
extension LedgerState {
    // The state changes of the most frequent events, shared by `apply` and the byte-level
    // replay (Replay.swift), so the two cannot differ.

    mutating func applyAccrual(_ i: Int, position: UInt64, at: Micros, amount: Int64, reason: AccrualReason,
                               activatesAt: Micros, expiresAt: Micros, debtPaid: Int64, purchase: Int32?) {
        let active = activatesAt <= at
        let lot = Lot(position: position, amount: amount, remaining: amount - debtPaid, reserved: 0,
                      activatesAt: activatesAt, expiresAt: expiresAt,
                      phase: active ? .active : .pending, reason: reason, corrected: false)
        let slot = lotPool.push(lot, client: Int32(i), list: &records[i].lotList)
        if !active && records[i].activationHint < 0 { records[i].activationHint = slot }
        if active {
            // available = active remaining − reserved − debt: the part that pays the debt
            // leaves the lot and the debt together, so available grows by the whole amount.
            changeBalances(i) { $0.accrued += amount; $0.debt -= debtPaid; $0.available += amount }
            scheduleDue(expiresAt, client: i, lot: position)
        } else {
            changeBalances(i) { $0.accrued += amount; $0.pending += amount }
            scheduleDue(activatesAt, client: i, lot: position)
        }
        if let purchase {
            if reason == .purchase {
                precondition(position < StoredPurchase.noLot, "a lot's position must stay below 2^48 - 1")
                purchaseStates[Int(purchase)].word = purchaseStates[Int(purchase)].word & StoredPurchase.wideBit | position
                setAmounts(purchase, paid: paid(purchase), accrued: amount)
            }
            if reason == .refund { returnTotals[purchase, default: ReturnTotals()].refunded += amount }
        }
    }

    /// Notes that client `i`'s birthday of `year` is decided (a bonus given or refused).
    mutating func decideBirthday(_ i: Int, year: Int32) {
        records[i].lastBirthdayYear = max(records[i].lastBirthdayYear, year)
    }

    /// The year a birthday bonus or refusal is for: the year its source names (`birthday-2025`:
    /// a bonus given late, in January, is still last year's), else, for a bonus whose source
    /// says nothing of it, the year of its time.
    static func birthdayYear<Source: Collection<UInt8>>(source: Source?, at: Micros?) -> Int32? {
        let prefix = "birthday-".utf8
        if let source, source.starts(with: prefix), let year = Int32(String(decoding: source.dropFirst(prefix.count), as: UTF8.self)) {
            return year
        }
        return at.map { Int32(clamping: Time.civil(days: Time.day(of: $0)).year) }
    }

    /// Puts a lot's next due time in the schedule, when it falls before the horizon.
    @inline(__always)
    private mutating func scheduleDue(_ due: Micros, client i: Int, lot position: UInt64) {
        if !isRebuilding && due < schedule.horizon { schedule.push(.init(due: due, client: Int32(i), lot: position)) }
    }

    /// Moves the schedule's horizon on to `horizon`, adding the open lots due from the old
    /// horizon up to the new one (a walk over every client's lots).
    mutating func extendSchedule(to horizon: Micros) {
        guard horizon > schedule.horizon else { return }
        var due = dueEntries(from: schedule.horizon, before: horizon)
        schedule.add(&due)
        schedule.horizon = horizon
    }

    /// The activations and expiries of open lots due in `[from, before)`, as the live state
    /// schedules them (a walk over every client's lots).
    func dueEntries(from: Micros, before horizon: Micros) -> [Schedule.Entry] {
        // Room for every open lot, reserved and not touched: the array never doubles, so no
        // outgrown copy stays in the heap, and only what is written becomes resident.
        var due: [Schedule.Entry] = []
        due.reserveCapacity(lotPool.live)
        for i in records.indices {
            var slot = records[i].lotHead
            while slot >= 0 {
                let lot = lotPool.dueView(slot)
                // As the live state schedules them: a pending lot's activation even when a
                // return has taken all of it (it activates at 0 and closes), an active lot's
                // expiry while something remains.
                let time: Micros? = switch lot.phase {
                case .pending: lot.activatesAt
                case .active: lot.hasRemaining ? lot.expiresAt : nil
                case .expired: nil
                }
                if let time, time >= from, time < horizon { due.append(.init(due: time, client: Int32(i), lot: lot.position)) }
                slot = lot.next
            }
        }
        return due
    }

    mutating func applyActivation(_ i: Int, lot: UInt64, debtPaid: Int64) {
        // Lots activate oldest first: the hint usually names this one.
        let hint = records[i].activationHint
        guard let l = hint >= 0 && lotPool.lots[Int(hint)].position == lot ? hint : lotSlot(i, lot) else { return }
        records[i].activationHint = lotPool.lots[Int(l)].previous
        // What is left of the lot (a return may have taken part while it was pending) moves
        // from pending to available; a part of it pays the debt (see accrual).
        let left = lotPool[l].remaining
        lotPool[l].phase = .active
        lotPool[l].remaining -= debtPaid
        changeBalances(i) { $0.pending -= left; $0.available += left; $0.debt -= debtPaid }
        scheduleDue(lotPool[l].expiresAt, client: i, lot: lot)
        closeIfDone(i, l)
    }

    mutating func applyWriteOff(_ i: Int, amount: Int64, takes: [LotTake]) {
        for take in takes {
            if let l = lotSlot(i, take.lot) {
                lotPool[l].remaining -= take.amount
                lotPool[l].spent += take.amount
                closeIfDone(i, l)
            }
        }
        changeBalances(i) { $0.available -= amount; $0.used += amount }
    }

    mutating func applyExpiry(_ i: Int, lot: UInt64, amount: Int64) {
        guard let l = lotSlot(i, lot) else { return }
        lotPool[l].remaining -= amount
        // Expired once no free part is left in it. A reservation released after the lot's
        // expiry, before the advance step, burns only what it gave back: the free rest is
        // still the advance step's to burn (which looks for active lots).
        if lotPool[l].remaining == lotPool[l].reserved { lotPool[l].phase = .expired }
        changeBalances(i) { $0.available -= amount; $0.expired += amount }
        closeIfDone(i, l)
    }

    mutating func applyPurchase(_ i: Int, index: Int32, at: Micros, paid: Int64, spent: Int64) {
        precondition(Int(index) == purchaseStates.count)
        purchaseStates.append(StoredPurchase(client: Int32(i), at: at))
        setAmounts(index, paid: paid, accrued: 0)
        if spent != 0 { purchaseSpent.append(index, spent) }
        if records[i].lastPurchase >= 0 { purchaseStates[Int(records[i].lastPurchase)].next = index } else { records[i].firstPurchase = index }
        records[i].lastPurchase = index
        records[i].stats.purchaseCount += 1
        records[i].stats.purchaseSum += paid
        records[i].stats.maxCheck = max(records[i].stats.maxCheck, paid)
        if records[i].stats.firstPurchaseAt == nil { records[i].stats.firstPurchaseAt = at }
        records[i].stats.lastPurchaseAt = at
        guard !isRebuilding else { return }
        records[i].windowSum += paid
        records[i].windowCount += paid > 0 ? 1 : 0
        if records[i].windowStart < 0 { records[i].windowStart = index }
        advanceWindow(i, to: at)
    }

    /// What a purchase keeps after its returns.
    @inline(__always)
    func kept(_ index: Int32) -> Int64 { paid(index) - (returnTotals[index]?.returnedPaid ?? 0) }

    /// The first day of the level window that ends on the day of `at` (nil: all time).
    func windowFirstDay(_ at: Micros) -> Int64? {
        rules.levelWindowDays > 0 ? Time.day(of: at) - rules.levelWindowDays + 1 : nil
    }

    /// Drops from a client's level window the purchases that fell out of it by `at`.
    mutating func advanceWindow(_ i: Int, to at: Micros) {
        let window = self.window(i, at: at)
        records[i].windowSum = window.sum
        records[i].windowCount = Int32(window.count)
        records[i].windowStart = window.start
    }

    /// Client `i`'s level window as of its last purchase, less the purchases that left it by
    /// `at`: what they kept after returns, how many kept some, and the first still inside.
    @inline(__always)
    func window(_ i: Int, at: Micros) -> (sum: Int64, count: Int64, start: Int32) {
        var (sum, count, start) = (records[i].windowSum, Int64(records[i].windowCount), records[i].windowStart)
        guard let from = windowFirstDay(at) else { return (sum, count, start) }
        while start >= 0, Time.day(of: purchaseStates[Int(start)].at) < from {
            let keep = kept(start)
            sum -= keep
            count -= keep > 0 ? 1 : 0
            start = purchaseStates[Int(start)].next
        }
        return (sum, count, start)
    }

    /// Whether purchase `index` of client `i` is inside its level window (as of its last purchase).
    /// A client's purchase indexes ascend along its list, and the window is the list's tail
    /// from `windowStart`.
    @inline(__always)
    func inWindow(_ i: Int, _ index: Int32) -> Bool {
        purchaseStates[Int(index)].client == Int32(i) && records[i].windowStart >= 0 && index >= records[i].windowStart
    }

    /// Recomputes every client's level window as of `at` (after a rebuild, or a change of the
    /// rules' window): the client's purchases on or after the window's first day. One pass over
    /// the purchases in the order they were made (which is time order), rather than a walk of
    /// each client's list: the records are written in any order, but nothing waits on a link.
    mutating func recomputeWindows(at: Micros) {
        let windows = recomputedWindows(at: at)
        for i in records.indices {
            // Written only where it changed: a record mapped from a snapshot that holds these
            // very windows is then not copied page by page.
            if records[i].windowStart != windows.starts[i] { records[i].windowStart = windows.starts[i] }
            if records[i].windowSum != windows.sums[i] { records[i].windowSum = windows.sums[i] }
            if records[i].windowCount != windows.counts[i] { records[i].windowCount = windows.counts[i] }
        }
    }

    /// Every client's level window as of `at`, computed afresh from the purchases: the first
    /// purchase inside it (-1: none), how many inside kept some money, and what they kept.
    func recomputedWindows(at: Micros) -> (starts: [Int32], counts: [Int32], sums: [Int64]) {
        var starts = [Int32](repeating: -1, count: records.count)
        var counts = [Int32](repeating: 0, count: records.count)
        var sums = [Int64](repeating: 0, count: records.count)
        let from = windowFirstDay(at)
        for index in purchaseStates.indices {
            let p = purchaseStates[index]
            if let from, Time.day(of: p.at) < from { continue }
            let i = Int(p.client)
            let keep = kept(Int32(index))
            if starts[i] < 0 { starts[i] = Int32(index) }
            sums[i] += keep
            counts[i] += keep > 0 ? 1 : 0
        }
        return (starts, counts, sums)
    }

    mutating func applyContact(_ i: Int, channel: Channel, delivered: Bool, at: Micros) {
        records[i].channels.update(channel) { state in
            state.lastContactAt = at
            if delivered { state.received += 1 }
        }
    }

    mutating func applySubscription(_ i: Int, channel: Channel, subscribed: Bool) {
        records[i].channels.update(channel) { $0.subscribed = subscribed }
    }

    mutating func applyWallet(_ i: Int, platform: WalletPlatform, installed: Bool) {
        let bit: UInt8 = 1 << WalletPlatform.allCases.firstIndex(of: platform)!
        if installed { records[i].walletBits |= bit } else { records[i].walletBits &= ~bit }
    }

    mutating func applyLevel(_ i: Int, to: String?, manual: Bool) {
        records[i].levelCode = levelCode(to)
        records[i].levelManual = manual
    }

    /// Drops lots that can never change again from memory: nothing left, nothing held, and not a
    /// manual accrual (which a correction may still void). The log keeps them.
    /// Only the lots an event touched are looked at.
    mutating func compactLots(_ i: Int, touched positions: some Sequence<UInt64>) {
        for position in positions {
            guard let l = lotSlot(i, position) else { continue }
            closeIfDone(i, l)
        }
    }

    /// Drops the lot in slot `l` of client `i` if it can never change again.
    @inline(__always)
    private mutating func closeIfDone(_ i: Int, _ l: Int32) {
        let lot = lotPool[l]
        if lot.remaining == 0 && lot.reserved == 0 && lot.phase != .pending && lot.reason != .manual && lot.reason != .api {
            lotPool.remove(l, client: Int32(i), list: &records[i].lotList)
            if records[i].activationHint == l { records[i].activationHint = -1 }
        } else if lot.remaining == 0 {
            lotPool.emptied(l, client: Int32(i), list: records[i].lotList)
        }
    }

    /// Changes a client's balances, and the ledger's totals with them (a deleted client's
    /// balances are not in the totals). `change` must only add or take amounts it is given,
    /// so that applying it to both moves them by the same amounts.
    @inline(__always)
    mutating func changeBalances(_ i: Int, _ change: (inout Balances) -> Void) {
        change(&records[i].balances)
        if !records[i].deleted { change(&coreTotals.balances) }
    }

    /// Changes client `i`'s blocked or deleted flag, moving it between the totals' counts.
    mutating func changeStanding(_ i: Int, _ change: (inout ClientRecord) -> Void) {
        count(i, -1)
        change(&records[i])
        count(i, 1)
    }

    /// Counts client `i` in the totals as it stands (`sign` 1) or takes it out (`sign` -1).
    private mutating func count(_ i: Int, _ sign: Int) {
        if records[i].deleted {
            coreTotals.deletedClients += sign
            return
        }
        coreTotals.clients += sign
        if records[i].blocked { coreTotals.blockedClients += sign }
        coreTotals.balances.add(records[i].balances, sign: Int64(sign))
    }

    /// Applies a profile change's fields; the texts are written to the arena once, at the end.
    mutating func applyProfile(_ i: Int, _ changes: [FieldChange]) {
        var texts = profile(i)
        var textsChanged = false
        for change in changes {
            switch change.field {
            case "name": texts.name = change.new; textsChanged = true
            case "email": texts.email = change.new; textsChanged = true
            case "place": texts.place = change.new; textsChanged = true
            case "gender": records[i].setGender(change.new.flatMap(Gender.init(rawValue:)))
            case "status": if let s = change.new.flatMap(ParticipationStatus.init(rawValue:)) { records[i].status = s }
            case "birthday":
                records[i].setBirthday(change.new.flatMap(Time.parse).map(Time.day(of:)))
                if let day = records[i].birthday { noteBirthday(Int32(i), day) }
            case "phone":
                if let old = texts.phone { phoneIndex.remove(old, heldBy: Int32(i)) }
                texts.phone = change.new
                textsChanged = true
                if let new = change.new { setHolder(new, Int32(i), cards: false) }
            default: break
            }
        }
        if textsChanged { records[i].profile = self.texts.append(texts) }
    }

    /// The one-byte code of a level name (interned on first sight).
    mutating func levelCode(_ name: String?) -> UInt8 {
        guard let name else { return 0 }
        if let k = levelNames.firstIndex(of: name) { return UInt8(k + 1) }
        precondition(levelNames.count < 255, "at most 255 distinct level names")
        levelNames.append(name)
        return UInt8(levelNames.count)
    }

    /// Ends a rebuild: the level windows from every client's purchases, and the due-time
    /// schedule from the open lots (a pending lot's activation, an active lot's expiry) up to
    /// a horizon past the last event.
    public mutating func finishRebuild() {
        isRebuilding = false
        parts.finishRebuild()
        if lastEventAt != Int64.min { recomputeWindows(at: lastEventAt) }
        schedule.removeAll()
        schedule.horizon = .min
        if lastEventAt != Int64.min { extendSchedule(to: Schedule.horizon(after: lastEventAt)) }
    }
}
