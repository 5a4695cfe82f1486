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
    static let deletedBit: UInt8 = 1 << 4

    init() {}

    /// The columns of these records.
    init(_ records: ChunkedArray<ClientRecord>) {
        for i in records.indices { sync(i, records[i]) }
    }

    var count: Int { traits.count }

    static func traits(_ r: borrowing ClientRecord) -> UInt8 {
        let status = r.blocked ? ParticipationStatus.blocked : r.status
        let code = UInt8(ParticipationStatus.allCases.firstIndex(of: status)!)
        return (r.genderCode & 3) | code << 2 | (r.deleted ? deletedBit : 0)
    }

    static func day(_ at: Micros) -> Int32 { Int32(truncatingIfNeeded: Time.day(of: at)) }   // (|µs| / 86 400 000 000 < 2³¹)

    /// Writes client `i`'s columns from its record (appending them for a new client).
    mutating func sync(_ i: Int, _ r: borrowing ClientRecord) {
        let values = (r.stats.purchaseSum, Int32(truncatingIfNeeded: r.stats.purchaseCount), r.balances.available,
                      r.stats.lastPurchaseAt.map(Self.day) ?? Self.noDay, Self.day(r.registeredAt), Self.traits(r))
        if i == count {
            purchaseSums.append(values.0); purchaseCounts.append(values.1); available.append(values.2)
            lastPurchaseDays.append(values.3); registeredDays.append(values.4); traits.append(values.5)
            return
        }
        guard i < count else { return }   // (a client past the columns: the state's invariants name it)
        // Written only where it changed: the columns' chunks stay shared with a copy of the state.
        if purchaseSums[i] != values.0 { purchaseSums[i] = values.0 }
        if purchaseCounts[i] != values.1 { purchaseCounts[i] = values.1 }
        if available[i] != values.2 { available[i] = values.2 }
        if lastPurchaseDays[i] != values.3 { lastPurchaseDays[i] = values.3 }
        if registeredDays[i] != values.4 { registeredDays[i] = values.4 }
        if traits[i] != values.5 { traits[i] = values.5 }
    }

    /// Stops the process unless every column equals its record.
    func check(_ records: ChunkedArray<ClientRecord>) {
        precondition(count == records.count && purchaseSums.count == count && purchaseCounts.count == count && available.count == count
                     && lastPurchaseDays.count == count && registeredDays.count == count, "record columns: \(count) rows for \(records.count) clients")
        for i in records.indices {
            let r = records[i]
            precondition(purchaseSums[i] == r.stats.purchaseSum && Int64(purchaseCounts[i]) == r.stats.purchaseCount
                         && available[i] == r.balances.available && registeredDays[i] == Self.day(r.registeredAt)
                         && lastPurchaseDays[i] == (r.stats.lastPurchaseAt.map(Self.day) ?? Self.noDay) && traits[i] == Self.traits(r),
                         "record columns: client \(i)'s columns differ from its record")
        }
    }
}
