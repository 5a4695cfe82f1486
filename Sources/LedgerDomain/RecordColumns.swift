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
        // (Each field read in place: a copy of the 256-byte record per event was 2 % of a replay.)
        func sum() -> Int64 { records[inPlace: i].stats.purchaseSum }
        func purchases() -> Int32 { Int32(truncatingIfNeeded: records[inPlace: i].stats.purchaseCount) }
        func last() -> Int32 { records[inPlace: i].stats.lastPurchaseAt.map(Self.day) ?? Self.noDay }
        func bonuses() -> Int64 { records[inPlace: i].balances.available }
        func registered() -> Int32 { Self.day(records[inPlace: i].registeredAt) }
        if i == count {
            purchaseSums.append(sum()); purchaseCounts.append(purchases()); available.append(bonuses())
            lastPurchaseDays.append(last()); registeredDays.append(registered()); traits.append(Self.traits(i, of: records))
            return
        }
        guard i < count else { return }   // (a client past the columns: the state's invariants name it)
        if !facts.isDisjoint(with: [.purchases, .returns]) {
            Self.write(&purchaseSums, i, sum()); Self.write(&purchaseCounts, i, purchases()); Self.write(&lastPurchaseDays, i, last())
        }
        if facts.contains(.bonuses) { Self.write(&available, i, bonuses()) }
        if !facts.isDisjoint(with: [.profile, .standing]) { Self.write(&traits, i, Self.traits(i, of: records)); Self.write(&registeredDays, i, registered()) }
    }

    /// Writes `value` at `i` only where it differs: the columns' chunks stay shared with a
    /// copy of the state.
    @inline(__always)
    static func write<T: Equatable>(_ column: inout ChunkedArray<T>, _ i: Int, _ value: T) {
        if column[i] != value { column[i] = value }
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
