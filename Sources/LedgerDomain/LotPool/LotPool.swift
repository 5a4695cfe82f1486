import LedgerStorage
import LedgerBytes

/// A lot as the pool keeps it: 40 bytes. The position shares its word with the phase, the
/// reason and four flags (positions stay below 2⁴⁸). The amount and what remains are kept in
/// 32 bits (up to 42 949 672,95 bonuses); a lot with more is *wide*: both are kept beside, in
/// full. What orders hold (`reserved`) and what was spent (`spent`) are kept beside too, for
/// the few lots where they are not zero.
struct PooledLot: Sendable {
    var key: UInt64
    var activatesAt: Micros
    var expiresAt: Micros
    var amount: UInt32
    var remaining: UInt32
    var next: Int32
    var previous: Int32

    static let positionBits: UInt64 = 48
    static let positionMask: UInt64 = (1 << positionBits) - 1
    // Bits above the position: 48–49 phase, 50–53 reason, 54 corrected, 55 reserved ≠ 0,
    // 56 spent ≠ 0, 57 wide.
    static let correctedBit: UInt64 = 1 << 54
    static let reservedBit: UInt64 = 1 << 55
    static let spentBit: UInt64 = 1 << 56
    static let wideBit: UInt64 = 1 << 57

    static let empty = PooledLot(key: 0, activatesAt: 0, expiresAt: 0, amount: 0, remaining: 0, next: -1, previous: -1)

    @inline(__always) var position: UInt64 { key & Self.positionMask }
}

/// Where a client's lots are in the pool: the newest and the oldest of its list (-1: none),
/// and how many there are (see ``ClientRecord/lotCount``).
struct LotList: Sendable {
    var head: Int32
    var tail: Int32
    var count: UInt8
}

/// Every client's lots in one pool: each client's lots form a doubly linked list through
/// `next` (older) and `previous` (newer), newest at the head, and a slot freed by a closed lot
/// is reused. No array a client. A lookup walks from whichever end is nearer by position:
/// activations and returns touch young lots, expiries and write-offs old ones, so most
/// lookups take a step or two, one cache line a step. A client with many lots has a
/// ``LotIndex`` beside its list, which finds a lot in one probe and gives the spending order.
public struct LotPool: Sendable {
    var lots = ChunkedArray<PooledLot>()
    var reserved: [Int32: Int64] = [:]
    var spent: [Int32: Int64] = [:]
    var wide: [Int32: (amount: Int64, remaining: Int64)] = [:]
    var free: Int32 = -1
    /// The indexes of the clients with many lots, by client number.
    var indexes: [Int32: LotIndex] = [:]
    public internal(set) var live = 0

    /// A list gets an index when it reaches this many lots, and loses it below `indexUntil`.
    static let indexFrom = 64
    static let indexUntil = 16
    /// ``LotList/count`` of a list with an index.
    static let indexed = UInt8.max

    /// The whole lot in `slot`; changing it writes the compact form back.
    subscript(slot: Int32) -> Lot {
        get { lot(slot) }
        _modify {
            var lot = lot(slot)
            yield &lot
            store(lot, slot)
        }
    }

    /// What the schedule reads of a lot, without the side tables a whole ``Lot`` looks in.
    @inline(__always)
    func dueView(_ slot: Int32) -> (phase: Lot.Phase, activatesAt: Micros, expiresAt: Micros, hasRemaining: Bool, position: UInt64, next: Int32) {
        let p = lots[Int(slot)]
        let phase = Lot.Phase(rawValue: UInt8((p.key >> PooledLot.positionBits) & 3)) ?? .expired
        let hasRemaining = p.key & PooledLot.wideBit != 0 ? (wide[slot]?.remaining ?? 0) > 0 : p.remaining > 0
        return (phase, p.activatesAt, p.expiresAt, hasRemaining, p.position, p.next)
    }

    @inline(__always)
    private func lot(_ slot: Int32) -> Lot {
        let p = lots[Int(slot)]
        let bits = p.key >> PooledLot.positionBits
        let (amount, remaining) = p.key & PooledLot.wideBit != 0 ? wide[slot]! : (Int64(p.amount), Int64(p.remaining))
        return Lot(position: p.position, amount: amount, remaining: remaining,
                   reserved: p.key & PooledLot.reservedBit != 0 ? reserved[slot] ?? 0 : 0,
                   spent: p.key & PooledLot.spentBit != 0 ? spent[slot] ?? 0 : 0,
                   activatesAt: p.activatesAt, expiresAt: p.expiresAt,
                   phase: Lot.Phase(rawValue: UInt8(bits & 3))!, reason: AccrualReason.allCases[Int((bits >> 2) & 15)],
                   corrected: p.key & PooledLot.correctedBit != 0, next: p.next, previous: p.previous)
    }

    @inline(__always)
    private mutating func store(_ lot: Lot, _ slot: Int32) {
        precondition(lot.position <= PooledLot.positionMask, "a lot's position must stay below 2^48")
        var key = lot.position | UInt64(lot.phase.rawValue) << PooledLot.positionBits
            | UInt64(AccrualReason.allCases.firstIndex(of: lot.reason)!) << (PooledLot.positionBits + 2)
        if lot.corrected { key |= PooledLot.correctedBit }
        let old = lots[Int(slot)].key
        if lot.reserved != 0 { key |= PooledLot.reservedBit; reserved[slot] = lot.reserved } else if old & PooledLot.reservedBit != 0 { reserved[slot] = nil }
        if lot.spent != 0 { key |= PooledLot.spentBit; spent[slot] = lot.spent } else if old & PooledLot.spentBit != 0 { spent[slot] = nil }
        let narrow = UInt32(exactly: lot.amount).flatMap { a in UInt32(exactly: lot.remaining).map { (a, $0) } }
        if narrow == nil { key |= PooledLot.wideBit; wide[slot] = (lot.amount, lot.remaining) } else if old & PooledLot.wideBit != 0 { wide[slot] = nil }
        lots[Int(slot)] = PooledLot(key: key, activatesAt: lot.activatesAt, expiresAt: lot.expiresAt, amount: narrow?.0 ?? 0,
                                    remaining: narrow?.1 ?? 0, next: lot.next, previous: lot.previous)
    }

    /// Adds a lot of `client` (newer than every lot in its list) at the list's head; returns
    /// its slot.
    mutating func push(_ lot: Lot, client: Int32, list: inout LotList) -> Int32 {
        ensureIndex(client, list)
        var lot = lot
        lot.next = list.head
        lot.previous = -1
        let slot: Int32
        if free >= 0 {
            slot = free
            free = lots[Int(slot)].next
        } else {
            slot = Int32(lots.count)
            lots.append(.empty)
        }
        store(lot, slot)
        if list.head >= 0 { lots[Int(list.head)].previous = slot } else { list.tail = slot }
        list.head = slot
        live += 1
        if list.count == Self.indexed {
            indexes[client]!.add(position: lot.position, expiresAt: lot.expiresAt, slot: slot, spendable: lot.remaining > 0)
        } else {
            list.count += 1
            if list.count >= Self.indexFrom { makeIndex(client: client, list: &list) }
        }
        return slot
    }

    /// Builds the index of a list that should have one and has none yet (a state restored
    /// from a snapshot builds each when its list first changes; until then a lookup walks).
    @inline(__always)
    private mutating func ensureIndex(_ client: Int32, _ list: LotList) {
        if list.count == Self.indexed && indexes[client] == nil {
            var list = list
            makeIndex(client: client, list: &list)
        }
    }

    mutating func makeIndex(client: Int32, list: inout LotList) {
        var index = LotIndex()
        var slot = list.tail
        var all: [(expiresAt: Micros, position: UInt64, slot: Int32, spendable: Bool)] = []
        while slot >= 0 {
            let lot = lot(slot)
            all.append((lot.expiresAt, lot.position, slot, lot.remaining > 0))
            slot = lot.previous
        }
        all.sort { $0.expiresAt != $1.expiresAt ? $0.expiresAt < $1.expiresAt : $0.position < $1.position }
        for lot in all { index.add(position: lot.position, expiresAt: lot.expiresAt, slot: lot.slot, spendable: lot.spendable) }
        indexes[client] = index
        list.count = Self.indexed
    }

    /// The index of a list, if it has one.
    @inline(__always)
    func index(of client: Int32, _ list: LotList) -> LotIndex? { list.count == Self.indexed ? indexes[client] : nil }

    /// The slot of the lot at `position` in `client`'s list.
    @inline(__always)
    func find(_ position: UInt64, client: Int32, list: LotList) -> Int32? {
        if list.count == Self.indexed, let index = indexes[client] { return index.slots[position] }
        let (head, tail) = (list.head, list.tail)
        guard head >= 0 else { return nil }
        let newest = lots[Int(head)].position
        if newest == position { return head }
        if newest < position { return nil }
        let oldest = lots[Int(tail)].position
        if oldest == position { return tail }
        if oldest > position { return nil }
        if newest - position <= position - oldest {
            var slot = lots[Int(head)].next
            while slot >= 0 {
                let lot = lots[Int(slot)]
                if lot.position <= position { return lot.position == position ? slot : nil }
                slot = lot.next
            }
        } else {
            var slot = lots[Int(tail)].previous
            while slot >= 0 {
                let lot = lots[Int(slot)]
                if lot.position >= position { return lot.position == position ? slot : nil }
                slot = lot.previous
            }
        }
        return nil
    }

    /// Notes that nothing is left in the lot in `slot`: it leaves the spending order.
    mutating func emptied(_ slot: Int32, client: Int32, list: LotList) {
        guard list.count == Self.indexed else { return }
        ensureIndex(client, list)
        let lot = lots[Int(slot)]
        indexes[client]!.leaveOrder(position: lot.position, expiresAt: lot.expiresAt)
    }

    /// Takes the lot in `slot` out of `client`'s list and frees the slot.
    mutating func remove(_ slot: Int32, client: Int32, list: inout LotList) {
        ensureIndex(client, list)
        let removed = lots[Int(slot)]
        let after = removed.next
        let before = removed.previous
        if before >= 0 { lots[Int(before)].next = after } else { list.head = after }
        if after >= 0 { lots[Int(after)].previous = before } else { list.tail = before }
        if removed.key & PooledLot.reservedBit != 0 { reserved[slot] = nil }
        if removed.key & PooledLot.spentBit != 0 { spent[slot] = nil }
        if removed.key & PooledLot.wideBit != 0 { wide[slot] = nil }
        var freed = PooledLot.empty
        freed.next = free
        lots[Int(slot)] = freed
        free = slot
        live -= 1
        if list.count == Self.indexed {
            indexes[client]!.remove(position: removed.position, expiresAt: removed.expiresAt)
            let left = indexes[client]!.count
            if left < Self.indexUntil {
                indexes[client] = nil
                list.count = UInt8(left)
            }
        } else {
            list.count = max(list.count, 1) - 1  // never below zero, whatever a snapshot said
        }
    }

    /// The lots of the list ending at `tail`, oldest first (as values: their links cleared).
    func list(tail: Int32) -> [Lot] {
        var result: [Lot] = []
        var slot = tail
        while slot >= 0 {
            var lot = lot(slot)
            slot = lot.previous
            lot.next = -1
            lot.previous = -1
            result.append(lot)
        }
        return result
    }

    /// Checks `client`'s list: links both ways, positions ascending from the tail, the count,
    /// and its index if it has one. Stops the process with a message at the first fault.
    func checkInvariants(client: Int32, list: LotList) {
        var slot = list.tail
        var previous: Int32 = -1
        var entries: [(position: UInt64, expiresAt: Micros, slot: Int32, spendable: Bool)] = []
        while slot >= 0 {
            let lot = lot(slot)
            precondition(lot.next == previous, "lot pool: client \(client)'s list is not linked both ways at slot \(slot)")
            if let last = entries.last { precondition(last.position < lot.position, "lot pool: client \(client)'s lots out of order") }
            entries.append((lot.position, lot.expiresAt, slot, lot.remaining > 0))
            previous = slot
            slot = lot.previous
        }
        precondition(previous == list.head, "lot pool: client \(client)'s list does not end at its head")
        if list.count == Self.indexed {
            precondition(entries.count >= Self.indexUntil, "lot pool: client \(client) has an index for \(entries.count) lots")
            // (A restored state builds an index when its list first changes.)
            indexes[client]?.checkInvariants(lots: entries)
        } else {
            precondition(Int(list.count) == entries.count, "lot pool: client \(client) counts \(list.count) lots of \(entries.count)")
            precondition(entries.count < Self.indexFrom, "lot pool: client \(client) has \(entries.count) lots and no index")
            precondition(indexes[client] == nil, "lot pool: client \(client) has a stale index")
        }
    }
}
