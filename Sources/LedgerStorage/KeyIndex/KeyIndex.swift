import LedgerBytes
import CPrefetch
import Glibc

/// Idempotency keys without their bytes: a hash table of 8-byte slots, each holding a key's
/// 32-bit hash tag and its entry's index + 1 (0: empty). The bytes stay in the log, in the
/// record the entry's answer starts at, so a tag match is a candidate that the caller confirms
/// (``LedgerState`` asks the log, or the keys it still holds). Three million keys cost 34 MB
/// of slots here rather than 83 MB with their bytes (MB = 10⁶ bytes). Entries are only added: linear probing
/// from the slot the tag names, load at most 3/4, growth rehashes tags alone.
public struct KeyIndex: Sendable {
    @usableFromInline package var slots = [UInt64](repeating: 0, count: 16)
    @usableFromInline package var mask = 15
    /// How many entries.
    @inlinable public var count: Int { storedCount }
    @usableFromInline package var storedCount = 0

    @inlinable public init() {}

    @inline(__always)
    @inlinable package static func tag(_ key: UnsafeRawBufferPointer) -> UInt64 { IdTable.hash(key) >> 32 }

    /// Calls `body` with every entry whose tag is `key`'s (the candidates for `key`).
    @inlinable package func forEachCandidate(_ key: UnsafeRawBufferPointer, _ body: (Int32) throws -> Void) rethrows {
        let tag = Self.tag(key)
        var slot = Int(tag) & mask
        while slots[slot] != 0 {
            if slots[slot] >> 32 == tag { try body(Int32(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF) - 1) }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `key` as the next entry (the caller knows it is new) and returns its index.
    @inlinable package mutating func insert(_ key: UnsafeRawBufferPointer) -> Int32 {
        let tag = Self.tag(key)
        var slot = Int(tag) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        let index = Int32(count)
        slots[slot] = tag << 32 | UInt64(index + 1)
        storedCount += 1
        if count * 4 > slots.count * 3 { grow() }
        return index
    }

    /// Hints the CPU to fetch the slot where `key`'s probe starts. Changes nothing.
    @inline(__always)
    @inlinable package func prefetch(_ key: UnsafeRawBufferPointer) {
        let slot = Int(Self.tag(key)) & mask
        slots.withUnsafeBufferPointer { ledger_prefetch($0.baseAddress! + slot) }
    }

    @inlinable mutating func grow() {
        slots = TagSlots.doubled(slots)
        mask = slots.count - 1
    }
}

extension KeyIndex {
    /// Stops the process when the table contradicts itself (see
    /// ``TagSlots/checkInvariants(_:mask:count:_:)``): each entry 0..<count named exactly once.
    @inlinable public func checkInvariants() {
        let entries = TagSlots.checkInvariants(slots, mask: mask, count: count, "idempotency keys")
        precondition(Set(entries) == Set((0..<UInt64(count)).map { $0 + 1 }), "idempotency keys: an entry missing or named twice")
    }
}
