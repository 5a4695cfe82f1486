import LedgerBytes

// How each storage structure writes itself into a snapshot section and reads itself back
// (data-format.md §13.3 gives the bytes). A read checks everything a later access would trust
// (lengths, indexes into other arrays, links, the varints of the arenas), so that a forged
// section is an error, never an out-of-bounds read or an endless walk.

/// Reads a varint of the state's arenas, as a snapshot gives them, with every byte checked
/// (and small enough to be a length: below 2³²).
private func checkedVarint(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) -> Int? {
    guard let value = Varint.read(bytes, at: &i, maxBytes: 5), value < 1 << 32 else { return nil }
    return Int(value)
}

extension IdTable {
    func write(to e: SectionEncoder) {
        e.put(UInt8(groupShift))
        e.put(UInt64(count))
        e.put(UInt64(longest))
        e.putArray(slots)
        e.putArray(arena)
        e.putArray(groupStarts)
        e.putArray(newest)
    }

    init(from d: inout SectionDecoder, groupSize: Int, _ what: String) throws(SectionError) {
        self.init(groupSize: groupSize)
        let shift = try d.get(UInt8.self, "\(what): group size")
        guard Int(shift) == groupShift else { throw d.fail("\(what): groups of \(1 << Int(min(shift, 62))) keys, expected \(groupSize)") }
        count = Int(try d.get(UInt64.self, "\(what): count") & 0xFFFF_FFFF)
        longest = Int(try d.get(UInt64.self, "\(what): longest key") & 0xFFFF_FFFF)
        slots = try d.getArray(UInt64.self, "\(what): slots")
        arena = try d.getArray(UInt8.self, "\(what): arena")
        groupStarts = try d.getArray(UInt32.self, "\(what): group starts")
        newest = try d.getArray(UInt8.self, "\(what): newest key")
        guard slots.count >= 16, slots.count & (slots.count - 1) == 0, count * 4 <= slots.count * 3 else {
            throw d.fail("\(what): \(slots.count) slots cannot hold \(count) keys")
        }
        mask = slots.count - 1
        guard slots.lazy.filter({ $0 != 0 }).count == count, slots.allSatisfy({ $0 & 0xFFFF_FFFF <= UInt64(count) }) else {
            throw d.fail("\(what): the slots do not name \(count) keys")
        }
        try checkArena(d, what)
    }

    /// Decodes every key, checking the groups, lengths and the newest key.
    private func checkArena(_ d: SectionDecoder, _ what: String) throws(SectionError) {
        let groupSize = 1 << groupShift
        guard groupStarts.count == (count + groupSize - 1) / groupSize else { throw d.fail("\(what): \(groupStarts.count) groups for \(count) keys") }
        var key = [UInt8](repeating: 0, count: longest)
        var length = 0
        let ok: Bool = arena.withUnsafeBytes { bytes in
            var i = 0
            for entry in 0..<count {
                let first = entry & (groupSize - 1) == 0
                if first && Int(groupStarts[entry >> groupShift]) != i { return false }
                guard let shared = first ? 0 : checkedVarint(bytes, &i), let rest = checkedVarint(bytes, &i),
                      shared <= length, rest <= longest - shared, i + rest <= bytes.count else { return false }
                for k in 0..<rest { key[shared + k] = bytes[i + k] }
                i += rest
                length = shared + rest
            }
            return i == bytes.count
        }
        guard ok else { throw d.fail("\(what): the key arena does not decode") }
        guard count == 0 || Array(key[0..<length]) == newest else { throw d.fail("\(what): the newest key is not the arena's last") }
    }
}

/// Whether `write` lays a row out exactly as a `T` lies in memory (the first `compared` bytes),
/// checked once on a sample with distinct bytes in every field: then a snapshot's rows can be
/// used where they lie. A build whose layout differs copies them field by field instead.
func rowsMatchMemory<T>(_ sample: T, width: Int, compared: Int? = nil, _ write: (T, UnsafeMutableRawBufferPointer) -> Void) -> Bool {
    guard MemoryLayout<T>.stride == width else { return false }
    var value = sample
    var row = [UInt8](repeating: 0, count: width)
    row.withUnsafeMutableBytes { write(value, $0) }
    let n = compared ?? width
    return withUnsafeBytes(of: &value) { Array($0.prefix(n)) } == Array(row.prefix(n))
}

/// The tag-slot tables (``HolderIndex``, ``KeyIndex``): slots, and how many are used.
private func writeSlots(_ slots: [UInt64], count: Int, to e: SectionEncoder) {
    e.put(UInt64(count))
    e.putArray(slots)
}

private func readSlots(_ d: inout SectionDecoder, payloadBelow limit: Int, _ what: String) throws(SectionError) -> (slots: [UInt64], count: Int) {
    let count = try d.get(UInt64.self, "\(what): count")
    let slots = try d.getArray(UInt64.self, "\(what): slots")
    guard slots.count >= 16, slots.count & (slots.count - 1) == 0, count * 4 <= UInt64(slots.count) * 3 else {
        throw d.fail("\(what): \(slots.count) slots cannot hold \(count) entries")
    }
    guard slots.lazy.filter({ $0 != 0 }).count == Int(count), slots.allSatisfy({ $0 == 0 || ($0 & 0xFFFF_FFFF) - 1 < UInt64(limit) }) else {
        throw d.fail("\(what): the slots do not name \(count) entries below \(limit)")
    }
    return (slots, Int(count))
}

extension HolderIndex {
    func write(to e: SectionEncoder) { writeSlots(slots, count: count, to: e) }
    init(from d: inout SectionDecoder, clients: Int, _ what: String) throws(SectionError) {
        self.init()
        (slots, count) = try readSlots(&d, payloadBelow: clients, what)
        mask = slots.count - 1
    }
}

extension KeyIndex {
    func write(to e: SectionEncoder) { writeSlots(slots, count: count, to: e) }
    init(from d: inout SectionDecoder) throws(SectionError) {
        self.init()
        // The payload is an entry number below the count, checked once the count is read.
        let count = try d.get(UInt64.self, "idempotency keys: count")
        let slots = try d.getArray(UInt64.self, "idempotency keys: slots")
        guard count < 1 << 31, slots.count >= 16, slots.count & (slots.count - 1) == 0, count * 4 <= UInt64(slots.count) * 3,
              slots.lazy.filter({ $0 != 0 }).count == Int(count), slots.allSatisfy({ $0 == 0 || ($0 & 0xFFFF_FFFF) - 1 < count }) else {
            throw d.fail("idempotency keys: the slots do not name \(count) entries")
        }
        self.slots = slots
        self.count = Int(count)
        mask = slots.count - 1
    }
}

extension AscendingPositions {
    func write(to e: SectionEncoder) {
        e.putArray(low)
        e.putArray(starts.map { UInt64($0) })
    }
    init(from d: inout SectionDecoder) throws(SectionError) {
        self.init()
        low = try d.getArray(UInt32.self, "answer positions: low words")
        let starts = try d.getArray(UInt64.self, "answer positions: word starts")
        guard zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 }), starts.allSatisfy({ $0 <= UInt64(low.count) }) else {
            throw d.fail("answer positions: the word starts do not ascend within \(low.count)")
        }
        self.starts = starts.map { Int($0) }
    }
}

extension AscendingValues {
    func write(to e: SectionEncoder) {
        e.putArray(indexes)
        e.putArray(values)
    }
    init(from d: inout SectionDecoder, _ what: String) throws(SectionError) {
        self.init()
        indexes = try d.getArray(Int32.self, "\(what): indexes")
        values = try d.getArray(Int64.self, "\(what): values")
        guard indexes.count == values.count, zip(indexes, indexes.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw d.fail("\(what): indexes must ascend, one value each")
        }
    }
}

extension TextArena {
    func write(to e: SectionEncoder) {
        e.put(UInt64(chunks.count))
        for chunk in chunks { e.putBytes(chunk) }
    }

    /// Reads the chunks, decoding every entry; returns where entries start (a bit a byte, by
    /// chunk), for checking the references to them.
    mutating func read(from d: inout SectionDecoder) throws(SectionError) -> [[UInt64]] {
        let n = try d.getCount("text chunks", width: 8)
        var starts: [[UInt64]] = []
        for k in 0..<n {
            let chunk = try d.getArray(UInt8.self, "text chunk \(k)")
            var bits = [UInt64](repeating: 0, count: (chunk.count + 63) / 64)
            let end: Int? = chunk.withUnsafeBytes { bytes in
                var i = 0
                while i < bytes.count {
                    bits[i >> 6] |= 1 << UInt64(i & 63)
                    guard let count = checkedVarint(bytes, &i) else { return nil }
                    for _ in 0..<count {
                        guard let header = checkedVarint(bytes, &i) else { return nil }
                        if header == 0 { continue }
                        let form = (header - 1) & 3, length = (header - 1) >> 2
                        let stored = form >= 2 ? (length + 1) / 2 : length
                        guard stored <= bytes.count - i else { return nil }
                        i += stored
                    }
                }
                return i
            }
            guard end == chunk.count else { throw d.fail("text chunk \(k) does not decode") }
            chunks.append(chunk)
            starts.append(bits)
        }
        return starts
    }

    /// Whether `ref` names the start of an entry (or is none), by what ``read(from:)`` found.
    static func names(_ ref: TextRef, _ starts: [[UInt64]]) -> Bool {
        if ref == .none { return true }
        guard Int(ref.chunk) < starts.count, Int(ref.offset >> 6) < starts[Int(ref.chunk)].count else { return false }
        return starts[Int(ref.chunk)][Int(ref.offset >> 6)] & (1 << UInt64(ref.offset & 63)) != 0
    }
}

extension ClientEntries {
    func write(to e: SectionEncoder) {
        e.putRows(count: entries.count, width: 28) { k, row in
            let entry = entries[k]
            row.put(entry.at, 0)
            row.put(entry.text.chunk, 8)
            row.put(entry.text.offset, 12)
            row.put(entry.value, 16)
            row.put(entry.older, 24)
        }
        let newest = newest.sorted { $0.key < $1.key }
        e.putArray(newest.map(\.key))
        e.putArray(newest.map(\.value))
    }

    init(from d: inout SectionDecoder, clients: Int, texts: [[UInt64]], _ what: String) throws(SectionError) {
        self.init()
        var entries: [Entry] = []
        let fail = d.fail
        try d.getRows("\(what) entries", width: 28) { k, row throws(SectionError) in
            let entry = Entry(at: row.get(Int64.self, 0), text: TextRef(chunk: row.get(UInt32.self, 8), offset: row.get(UInt32.self, 12)),
                              value: row.get(Int64.self, 16), older: row.get(Int32.self, 24))
            guard entry.older >= -1 && Int(entry.older) < k else { throw fail("\(what) entry \(k) links to \(entry.older)") }
            guard TextArena.names(entry.text, texts) else { throw fail("\(what) entry \(k) names no text") }
            entries.append(entry)
        }
        let clientsWith = try d.getArray(Int32.self, "\(what) clients")
        let newestEntries = try d.getArray(Int32.self, "\(what) newest entries")
        guard clientsWith.count == newestEntries.count, clientsWith.allSatisfy({ $0 >= 0 && Int($0) < clients }),
              newestEntries.allSatisfy({ $0 >= 0 && Int($0) < entries.count }) else {
            throw d.fail("\(what): the newest entries do not name clients and entries")
        }
        self.entries = entries
        newest = Dictionary(zip(clientsWith, newestEntries), uniquingKeysWith: { a, _ in a })
    }
}

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
