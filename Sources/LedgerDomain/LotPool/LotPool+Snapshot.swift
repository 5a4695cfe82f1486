import LedgerStorage
import LedgerBytes

extension LotPool {
    /// A lot's row: 40 bytes, as ``PooledLot`` holds it.
    static func writeRow(_ lot: PooledLot, _ row: UnsafeMutableRawBufferPointer) {
        row.put(lot.key, 0)
        row.put(lot.activatesAt, 8)
        row.put(lot.expiresAt, 16)
        row.put(lot.amount, 24)
        row.put(lot.remaining, 28)
        row.put(lot.next, 32)
        row.put(lot.previous, 36)
    }

    /// Whether a lot row is the lot as it lies in memory (then rows are used mapped).
    static let rowsMap = rowsMatchMemory(
        PooledLot(key: 0x0102_0304_0506_0708, activatesAt: 0x1112_1314_1516_1718, expiresAt: 0x2122_2324_2526_2728,
                  amount: 0x3132_3334, remaining: 0x4142_4344, next: 0x5152_5354, previous: 0x6162_6364),
        width: 40, writeRow)

    func write(to e: SectionEncoder) {
        e.putChunkedRows(count: lots.count, width: 40, chunkRows: ChunkedArray<PooledLot>.elementsPerChunk) { k, row in
            Self.writeRow(lots[k], row)
        }
        e.put(free)
        e.put(UInt64(live))
        for side in [reserved, spent] {
            let sorted = side.sorted { $0.key < $1.key }
            e.putArray(sorted.map(\.key))
            e.putArray(sorted.map(\.value))
        }
        let wide = wide.sorted { $0.key < $1.key }
        e.putArray(wide.map(\.key))
        e.putArray(wide.map(\.value.amount))
        e.putArray(wide.map(\.value.remaining))
    }

    init(from d: inout SectionDecoder, owner: AnyObject?) throws(SectionError) {
        self.init()
        let (count, bytes) = try d.getChunkedRows("lots", width: 40, chunkRows: ChunkedArray<PooledLot>.elementsPerChunk)
        var lots = ChunkedArray<PooledLot>()
        if let owner, count > 0, Self.rowsMap {
            // Every bit pattern is a PooledLot: the rows are checked in place (checkLinks).
            lots = ChunkedArray(mapping: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: count, owner: owner)
        } else {
            for k in 0..<count {
                let row = RowReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[(k * 40)..<((k + 1) * 40)]))
                lots.append(PooledLot(key: row.get(UInt64.self, 0), activatesAt: row.get(Int64.self, 8), expiresAt: row.get(Int64.self, 16),
                                      amount: row.get(UInt32.self, 24), remaining: row.get(UInt32.self, 28),
                                      next: row.get(Int32.self, 32), previous: row.get(Int32.self, 36)))
            }
        }
        free = try d.get(Int32.self, "the first free lot slot")
        live = Int(try d.get(UInt64.self, "the count of open lots") & 0xFFFF_FFFF)
        func side(_ what: String) throws(SectionError) -> [Int32: Int64] {
            let keys = try d.getArray(Int32.self, "\(what) slots")
            let values = try d.getArray(Int64.self, "\(what) amounts")
            guard keys.count == values.count, zip(keys, keys.dropFirst()).allSatisfy({ $0 < $1 }) else { throw d.fail("\(what): slots must ascend, one amount each") }
            return Dictionary(uniqueKeysWithValues: zip(keys, values))
        }
        reserved = try side("reserved")
        spent = try side("spent")
        let wideKeys = try d.getArray(Int32.self, "wide lot slots")
        let amounts = try d.getArray(Int64.self, "wide lot amounts")
        let remaining = try d.getArray(Int64.self, "wide lot remainders")
        guard wideKeys.count == amounts.count, amounts.count == remaining.count, zip(wideKeys, wideKeys.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw d.fail("wide lots: slots must ascend, one amount and remainder each")
        }
        wide = Dictionary(uniqueKeysWithValues: zip(wideKeys, zip(amounts, remaining).map { (amount: $0.0, remaining: $0.1) }))
        self.lots = lots
        try checkLinks(d)
    }

    /// Every link inside the pool, and the fields a lot's bits name: the free list ends within
    /// as many steps as there are slots; an open lot's older neighbour links back to it and is
    /// older (so no list can loop); phases, reasons and side tables agree with the bits. One
    /// pass in slot order, no list walked.
    private func checkLinks(_ d: SectionDecoder) throws(SectionError) {
        let isFree = try freeSlots()
        let n = lots.count
        var flagged = (reserved: 0, spent: 0, wide: 0)
        for k in 0..<n where !isFree[k] {
            // The neighbours are anywhere in the pool: fetch those of a lot 16 ahead meanwhile.
            if k + 16 < n {
                let ahead = lots[k + 16]
                lots.prefetch(Int(ahead.next), offsets: 0, 0)
                lots.prefetch(Int(ahead.previous), offsets: 0, 0)
            }
            let lot = lots[k]
            let bits = lot.key >> PooledLot.positionBits
            guard bits & 3 <= 2, Int((bits >> 2) & 15) < AccrualReason.allCases.count, bits >> 10 == 0 else { throw d.fail("lot slot \(k) has unknown bits") }
            if lot.key & PooledLot.reservedBit != 0 { flagged.reserved += 1 }
            if lot.key & PooledLot.spentBit != 0 { flagged.spent += 1 }
            if lot.key & PooledLot.wideBit != 0 { flagged.wide += 1 }
            guard lot.next >= -1, Int(lot.next) < n, lot.previous >= -1, Int(lot.previous) < n else { throw d.fail("lot slot \(k) links outside the pool") }
            if lot.next >= 0 {
                let older = lots[Int(lot.next)]
                guard !isFree[Int(lot.next)], older.previous == Int32(k), older.position < lot.position else { throw d.fail("lot slot \(k)'s older neighbour does not link back") }
            }
            if lot.previous >= 0 {
                guard !isFree[Int(lot.previous)], lots[Int(lot.previous)].next == Int32(k) else { throw d.fail("lot slot \(k)'s newer neighbour does not link back") }
            }
        }
        // Each side table names exactly the open lots whose bit says so.
        func agrees(_ slots: some Collection<Int32>, _ bit: UInt64, _ count: Int) -> Bool {
            slots.count == count && slots.allSatisfy { $0 >= 0 && Int($0) < n && !isFree[Int($0)] && lots[Int($0)].key & bit != 0 }
        }
        guard agrees(reserved.keys, PooledLot.reservedBit, flagged.reserved), agrees(spent.keys, PooledLot.spentBit, flagged.spent),
              agrees(wide.keys, PooledLot.wideBit, flagged.wide) else { throw d.fail("the side tables disagree with the lots' bits") }
    }

    /// Which slots are free, by a walk of the free list that must end within as many steps as
    /// there are slots; the rest must be as many as the open lots counted.
    func freeSlots() throws(SectionError) -> [Bool] {
        let n = lots.count
        var isFree = [Bool](repeating: false, count: n)
        var slot = free
        var steps = 0
        while slot >= 0 {
            guard Int(slot) < n, !isFree[Int(slot)], steps < n else { throw SectionError("lots", "the free lot list leaves the pool or loops") }
            isFree[Int(slot)] = true
            slot = lots[Int(slot)].next
            steps += 1
        }
        guard slot == -1, n - steps == live else { throw SectionError("lots", "\(n - steps) open lots, \(live) counted") }
        return isFree
    }

    /// Whether `list` can be a list of the pool: its ends are open lots (whose links
    /// ``checkLinks(_:)`` proved cannot loop), and its count is one a list has. A forged list
    /// whose ends lie on two chains answers wrongly but cannot trap or loop; checksums keep
    /// damage out.
    func holds(_ list: LotList, isFree: [Bool]) -> Bool {
        guard list.head >= -1, Int(list.head) < lots.count, list.tail >= -1, Int(list.tail) < lots.count,
              (list.head < 0) == (list.tail < 0) else { return false }
        guard list.head >= 0 else { return list.count == 0 }
        guard !isFree[Int(list.head)], !isFree[Int(list.tail)] else { return false }
        return list.count == Self.indexed || (list.count >= 1 && Int(list.count) < Self.indexFrom)
    }
}
