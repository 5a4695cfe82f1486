import LedgerBytes

extension KeyIndex {
    @inlinable package func write(to e: SectionEncoder) { writeSlots(slots, count: count, to: e) }
    @inlinable package init(from d: inout SectionDecoder) throws(SectionError) {
        self.init()
        // The payload is an entry number below the count, checked once the count is read.
        let count = try d.get(UInt64.self, "idempotency keys: count")
        let slots = try d.getArray(UInt64.self, "idempotency keys: slots")
        guard count < 1 << 31, slots.count >= 16, slots.count & (slots.count - 1) == 0, count * 4 <= UInt64(slots.count) * 3,
              slots.lazy.filter({ $0 != 0 }).count == Int(count), slots.allSatisfy({ $0 == 0 || ($0 & 0xFFFF_FFFF) - 1 < count }) else {
            throw d.fail("idempotency keys: the slots do not name \(count) entries")
        }
        self.slots = slots
        storedCount = Int(count)
        mask = slots.count - 1
    }
}

extension AscendingPositions {
    @inlinable package func write(to e: SectionEncoder) {
        e.putArray(low)
        e.putArray(starts.map { UInt64($0) })
    }
    @inlinable package init(from d: inout SectionDecoder) throws(SectionError) {
        self.init()
        low = try d.getArray(UInt32.self, "answer positions: low words")
        let starts = try d.getArray(UInt64.self, "answer positions: word starts")
        guard zip(starts, starts.dropFirst()).allSatisfy({ $0 <= $1 }), starts.allSatisfy({ $0 <= UInt64(low.count) }) else {
            throw d.fail("answer positions: the word starts do not ascend within \(low.count)")
        }
        self.starts = starts.map { Int($0) }
    }
}
