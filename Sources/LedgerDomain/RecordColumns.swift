import LedgerStorage

/// The client facts segment filters read most, one column each by client number, copied from
/// the client records as each event applies: a filter on one of them is a scan of its column
/// (8 bytes or fewer a client), not a read of every client's 256-byte record.
///
/// The records stay the truth: each event's client's columns are written again from its record
/// after the event applies (``LedgerState/applyToParts``), a state restored from a snapshot
/// builds them from its records, and ``LedgerState/checkInvariants()`` proves them equal.
public struct RecordColumns: Sendable {
    var purchaseSums = ChunkedArray<Int64>()
    var purchaseCounts = ChunkedArray<Int32>()
    var available = ChunkedArray<Int64>()
    /// Days since 1970-01-01 (UTC): of the last purchase (``noDay``: none) and of registration.
    var lastPurchaseDays = ChunkedArray<Int32>()
    var registeredDays = ChunkedArray<Int32>()
    /// Bits 0–1 the gender code (0 none, 1 female, 2 male), bits 2–3 the participation status
    /// (its index, blocked counting as `blocked`), bit 4 deleted.
    var traits = ChunkedArray<UInt8>()

    static let noDay = Int32.min
    /// The facts the columns hold: an event that changes none of them leaves them alone.
    static let facts: FactMask = [.purchases, .returns, .bonuses, .profile, .standing]
    static let deletedBit: UInt8 = 1 << 4

    init() {}

    /// The columns of these records.
    init(_ records: ChunkedArray<ClientRecord>) {
        for i in records.indices { sync(i, of: records) }
    }

    var count: Int { traits.count }

    static func traits(_ i: Int, of records: borrowing ChunkedArray<ClientRecord>) -> UInt8 {
        let status = records[inPlace: i].blocked ? ParticipationStatus.blocked : records[inPlace: i].status
        let code = UInt8(ParticipationStatus.allCases.firstIndex(of: status)!)
        return (records[inPlace: i].genderCode & 3) | code << 2 | (records[inPlace: i].deleted ? deletedBit : 0)
    }

    static func day(_ at: Micros) -> Int32 { Int32(truncatingIfNeeded: Time.day(of: at)) }   // (|µs| / 86 400 000 000 < 2³¹)

    /// Writes client `i`'s columns from its record (appending them for a new client): those
    /// that events changing `facts` can move (an event of a kind touches only its columns,
    /// each a separate cache line).
    @inline(__always)
    mutating func sync(_ i: Int, of records: borrowing ChunkedArray<ClientRecord>, facts: FactMask = .all) {
        // (Read in place: a copy of the 256-byte record per event was 2 % of a replay.)
        if i == count {
            purchaseSums.append(records[inPlace: i].stats.purchaseSum); purchaseCounts.append(Int32(truncatingIfNeeded: records[inPlace: i].stats.purchaseCount))
            available.append(records[inPlace: i].balances.available); lastPurchaseDays.append(records[inPlace: i].stats.lastPurchaseAt.map(Self.day) ?? Self.noDay)
            registeredDays.append(Self.day(records[inPlace: i].registeredAt)); traits.append(Self.traits(i, of: records))
            return
        }
        guard i < count else { return }   // (a client past the columns: the state's invariants name it)
        // Written only where it changed: the columns' chunks stay shared with a copy of the state.
        if !facts.isDisjoint(with: [.purchases, .returns]) {
            if purchaseSums[i] != records[inPlace: i].stats.purchaseSum { purchaseSums[i] = records[inPlace: i].stats.purchaseSum }
            let count = Int32(truncatingIfNeeded: records[inPlace: i].stats.purchaseCount)
            if purchaseCounts[i] != count { purchaseCounts[i] = count }
            let last = records[inPlace: i].stats.lastPurchaseAt.map(Self.day) ?? Self.noDay
            if lastPurchaseDays[i] != last { lastPurchaseDays[i] = last }
        }
        if facts.contains(.bonuses), available[i] != records[inPlace: i].balances.available { available[i] = records[inPlace: i].balances.available }
        if !facts.isDisjoint(with: [.profile, .standing]) {
            let t = Self.traits(i, of: records)
            if traits[i] != t { traits[i] = t }
            let registered = Self.day(records[inPlace: i].registeredAt)
            if registeredDays[i] != registered { registeredDays[i] = registered }
        }
    }

    /// Stops the process unless every column equals its record.
    func check(_ records: ChunkedArray<ClientRecord>) {
        precondition(count == records.count && purchaseSums.count == count && purchaseCounts.count == count && available.count == count
                     && lastPurchaseDays.count == count && registeredDays.count == count, "record columns: \(count) rows for \(records.count) clients")
        for i in records.indices {
            let r = records[i]
            precondition(purchaseSums[i] == r.stats.purchaseSum && Int64(purchaseCounts[i]) == r.stats.purchaseCount
                         && available[i] == r.balances.available && registeredDays[i] == Self.day(r.registeredAt)
                         && lastPurchaseDays[i] == (r.stats.lastPurchaseAt.map(Self.day) ?? Self.noDay) && traits[i] == Self.traits(i, of: records),
                         "record columns: client \(i)'s columns differ from its record")
        }
    }
}
