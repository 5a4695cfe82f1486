/// Slot tables of 8-byte slots holding a 32-bit hash tag in the high half, which also names the
/// slot a probe starts at, and a payload in the low half (0: empty): ``HolderIndex`` and
/// ``KeyIndex``. Linear probing.
@usableFromInline package enum TagSlots {
    /// The table twice as large, each slot placed again from its tag alone.
    @inlinable package static func doubled(_ old: [UInt64]) -> [UInt64] {
        var slots = [UInt64](repeating: 0, count: old.count * 2)
        let mask = slots.count - 1
        for value in old where value != 0 {
            var slot = Int(value >> 32) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = value
        }
        return slots
    }
}

extension TagSlots {
    /// What every tag-slot table keeps: a power-of-two size with its mask, `count` slots used
    /// and load at most 3/4, and each used slot reachable from the slot its tag names without
    /// crossing an empty one (what linear probing and backward-shift removal promise).
    /// Returns the used slots' payloads (their low halves). `what` names the table.
    @inlinable package static func checkInvariants(_ slots: [UInt64], mask: Int, count: Int, _ what: String) -> [UInt64] {
        precondition(slots.count >= 16 && slots.count & (slots.count - 1) == 0 && mask == slots.count - 1, "\(what): \(slots.count) slots, mask \(mask)")
        var payloads: [UInt64] = []
        for (slot, value) in slots.enumerated() where value != 0 {
            var probe = Int(value >> 32) & mask
            while probe != slot {
                precondition(slots[probe] != 0, "\(what): slot \(slot) cannot be reached from its tag's slot \(Int(value >> 32) & mask)")
                probe = (probe + 1) & mask
            }
            payloads.append(value & 0xFFFF_FFFF)
        }
        precondition(payloads.count == count && count * 4 <= slots.count * 3, "\(what): \(payloads.count) slots used, \(count) counted, of \(slots.count)")
        precondition(payloads.allSatisfy { $0 != 0 }, "\(what): a used slot with no payload")
        return payloads
    }
}
