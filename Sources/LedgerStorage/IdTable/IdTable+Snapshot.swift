import LedgerBytes

extension IdTable {
    @inlinable package func write(to e: SectionEncoder) {
        e.put(UInt8(groupShift))
        e.put(UInt64(count))
        e.put(UInt64(longest))
        e.putArray(slots)
        e.putArray(arena)
        e.putArray(groupStarts)
        e.putArray(newest)
    }

    @inlinable package init(from d: inout SectionDecoder, groupSize: Int, _ what: String) throws(SectionError) {
        self.init(groupSize: groupSize)
        let shift = try d.get(UInt8.self, "\(what): group size")
        guard Int(shift) == groupShift else { throw d.fail("\(what): groups of \(1 << Int(min(shift, 62))) keys, expected \(groupSize)") }
        storedCount = Int(try d.get(UInt64.self, "\(what): count") & 0xFFFF_FFFF)
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
    @inlinable func checkArena(_ d: SectionDecoder, _ what: String) throws(SectionError) {
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
