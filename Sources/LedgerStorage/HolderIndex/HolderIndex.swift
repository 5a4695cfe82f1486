import LedgerBytes
import CPrefetch
import Glibc

/// Who holds a key (a phone, a card): a hash table of 8-byte slots holding a 32-bit hash tag and
/// the holder's client number, and no keys. A tag match is confirmed by asking whether that
/// client holds the key (its profile in the text arena says), so a million phones cost 16 MB
/// rather than a dictionary of strings. Linear probing from the slot the tag names; removal
/// shifts the run back (no tombstones); load at most 3/4.
@usableFromInline package struct HolderIndex: Sendable {
    @inlinable package init() {}
    @usableFromInline package var slots = [UInt64](repeating: 0, count: 16)
    @usableFromInline package var mask = 15
    @usableFromInline package var count = 0

    @inline(__always)
    @inlinable static func tag(_ key: String) -> UInt64 {
        var copy = key
        return copy.withUTF8 { IdTable.hash(UnsafeRawBufferPointer($0)) >> 32 }
    }

    /// The client holding `key`: a slot whose tag matches and whose client `holds` it.
    @inlinable package func find(_ key: String, holds: (Int32, String) -> Bool) -> Int32? {
        let tag = Self.tag(key)
        var slot = Int(tag) & mask
        while slots[slot] != 0 {
            if slots[slot] >> 32 == tag {
                let holder = Int32(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF) - 1
                if holds(holder, key) { return holder }
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    /// Makes `holder` the holder of `key`, replacing whoever `holds` it now.
    @inlinable package mutating func set(_ key: String, to holder: Int32, holds: (Int32, String) -> Bool) {
        set(tag: Self.tag(key), to: holder) { holds($0, key) }
    }

    /// The same, for a key in bytes (as a rebuild reads it).
    @inlinable package mutating func set(_ key: UnsafeRawBufferPointer, to holder: Int32, holds: (Int32, String) -> Bool) {
        set(tag: IdTable.hash(key) >> 32, to: holder) { holds($0, String(decoding: key, as: UTF8.self)) }
    }

    @inlinable mutating func set(tag: UInt64, to holder: Int32, holds: (Int32) -> Bool) {
        var slot = Int(tag) & mask
        while slots[slot] != 0 {
            if slots[slot] >> 32 == tag && holds(Int32(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF) - 1) { break }
            slot = (slot + 1) & mask
        }
        if slots[slot] == 0 { count += 1 }
        slots[slot] = tag << 32 | UInt64(UInt32(bitPattern: holder + 1))
        if count * 4 > slots.count * 3 { grow() }
    }

    /// Removes the entry of `key` held by `holder`, if there is one. (Two keys of one holder
    /// with the same tag have identical slots: removing either leaves one that still answers
    /// for the other, since lookups ask the holder.)
    @inlinable package mutating func remove(_ key: String, heldBy holder: Int32) {
        let value = Self.tag(key) << 32 | UInt64(UInt32(bitPattern: holder + 1))
        var slot = Int(value >> 32) & mask
        while slots[slot] != 0 && slots[slot] != value { slot = (slot + 1) & mask }
        guard slots[slot] != 0 else { return }
        // Backward shift: move later entries of the run into the hole when their home allows.
        var hole = slot
        var next = (slot + 1) & mask
        while slots[next] != 0 {
            let home = Int(slots[next] >> 32) & mask
            let distanceFromHome = (next - home) & mask
            let distanceToHole = (next - hole) & mask
            if distanceFromHome >= distanceToHole {
                slots[hole] = slots[next]
                hole = next
            }
            next = (next + 1) & mask
        }
        slots[hole] = 0
        count -= 1
    }

    @inlinable mutating func grow() {
        slots = TagSlots.doubled(slots)
        mask = slots.count - 1
    }
}

extension HolderIndex {
    /// Stops the process when the table contradicts itself (see
    /// ``TagSlots/checkInvariants(_:mask:count:_:)``), or names a holder that is not one of
    /// `clients` clients.
    @inlinable package func checkInvariants(clients: Int, _ what: String) {
        let holders = TagSlots.checkInvariants(slots, mask: mask, count: count, what)
        precondition(holders.allSatisfy { $0 <= UInt64(clients) }, "\(what): a holder that is not a client")
    }
}
