/// Beside the lot list of a client with many open lots (a family card, a corporate account, a
/// cashier's test card): its lots by position, and the ones that still hold something in the
/// order write-offs and reservations take them (earliest expiry, then earliest accrual). With
/// it a lookup is one hash probe and a write-off reads only the lots it takes, so a client of
/// 100 000 lots costs what one of ten does. A client's list gets an index when it reaches
/// ``LotPool/indexFrom`` lots and loses it below ``LotPool/indexUntil``: the few lots of
/// everyone else are walked, which is cheaper than any index.
struct LotIndex: Sendable {
    /// A lot in the spending order. A lot's expiry never changes, so neither does its place.
    struct Entry: Sendable {
        var expiresAt: Micros
        var position: UInt64
        /// The lot's pool slot; -1 once it left the order.
        var slot: Int32

        @inline(__always)
        func precedes(_ expiresAt: Micros, _ position: UInt64) -> Bool {
            self.expiresAt != expiresAt ? self.expiresAt < expiresAt : self.position < position
        }
    }

    /// Every lot of the list, by position.
    private(set) var slots: [UInt64: Int32] = [:]
    /// The lots with something left, in spending order from `start`; entries whose lot left
    /// the order are marked (slot -1) and dropped in bulk.
    private(set) var order: [Entry] = []
    private var start = 0
    private var gone = 0

    var count: Int { slots.count }

    /// Adds a lot: usually the latest to expire, so an append.
    mutating func add(position: UInt64, expiresAt: Micros, slot: Int32, spendable: Bool) {
        slots[position] = slot
        guard spendable else { return }
        let entry = Entry(expiresAt: expiresAt, position: position, slot: slot)
        if order.count == start || order[order.count - 1].precedes(expiresAt, position) {
            order.append(entry)
        } else {
            order.insert(entry, at: place(expiresAt, position))
        }
    }

    /// Takes a lot out of the index (it closed).
    mutating func remove(position: UInt64, expiresAt: Micros) {
        slots[position] = nil
        leaveOrder(position: position, expiresAt: expiresAt)
    }

    /// Takes a lot out of the spending order only: nothing is left in it, which nothing gives
    /// back (releases return what a lot still holds as reserved), though it stays open.
    mutating func leaveOrder(position: UInt64, expiresAt: Micros) {
        let k = place(expiresAt, position)
        guard k < order.count, order[k].position == position, order[k].slot >= 0 else { return }
        order[k].slot = -1
        gone += 1
        while start < order.count && order[start].slot < 0 {
            start += 1
            gone -= 1
        }
        if start == order.count {
            order.removeAll(keepingCapacity: true)
            start = 0
        } else if start + gone > 64 && start + gone > order.count / 2 {
            order = order[start...].filter { $0.slot >= 0 }
            start = 0
            gone = 0
        }
    }

    /// The first index in `order` from `start` whose entry does not precede the key.
    private func place(_ expiresAt: Micros, _ position: UInt64) -> Int {
        var (low, high) = (start, order.count)
        while low < high {
            let middle = (low + high) / 2
            if order[middle].precedes(expiresAt, position) { low = middle + 1 } else { high = middle }
        }
        return low
    }

    /// Calls `body` with the slots of the lots in spending order until it returns false.
    @inline(__always)
    func forEachInSpendingOrder(_ body: (Int32) -> Bool) {
        var k = start
        while k < order.count {
            let slot = order[k].slot
            if slot >= 0 && !body(slot) { return }
            k += 1
        }
    }

    /// Checks the index against the lots it indexes (given as position, expiry, slot, and
    /// whether something is left in it); stops the process with a message at the first fault.
    func checkInvariants(lots: [(position: UInt64, expiresAt: Micros, slot: Int32, spendable: Bool)]) {
        precondition(slots.count == lots.count, "lot index: \(slots.count) positions for \(lots.count) lots")
        for lot in lots { precondition(slots[lot.position] == lot.slot, "lot index: lot \(lot.position) not at slot \(lot.slot)") }
        let live = order[start...].filter { $0.slot >= 0 }
        precondition(live.count == order.count - start - gone, "lot index: \(gone) entries marked gone, counted wrong")
        for (a, b) in zip(live, live.dropFirst()) {
            precondition(a.precedes(b.expiresAt, b.position), "lot index: spending order broken at lot \(b.position)")
        }
        let inOrder = Set(live.map(\.position))
        for lot in lots where lot.spendable {
            precondition(inOrder.contains(lot.position), "lot index: lot \(lot.position) holds something but is not in the order")
        }
        for entry in live {
            precondition(slots[entry.position] == entry.slot, "lot index: order names lot \(entry.position) at another slot")
        }
    }
}
