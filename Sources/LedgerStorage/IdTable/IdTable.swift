import LedgerBytes
import CPrefetch
import Glibc

/// A varint (LEB128) in the state's own memory (the id table's arena, the text arena): written
/// and read here only, so it is trusted and read without bounds checks beyond the buffer's.
@inline(__always)
@inlinable package func memoryVarint(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) -> Int { Varint.readTrusted(bytes, &i) }

@inline(__always)
@inlinable package func appendMemoryVarint(_ value: Int, to bytes: inout [UInt8]) { Varint.append(UInt64(value), to: &bytes) }

/// A hash table from ids — client ids, purchase ids — to dense indexes 0, 1, 2, … in the order
/// they were first seen. Keys live back to back in one byte arena, so a million ids cost a few
/// bytes each and no String apiece, and a lookup hashes the bytes straight from the log (open
/// addressing, linear probing, load at most 3/4).
///
/// The arena is front-coded in groups, as LevelDB codes its blocks between restart points:
/// the first key of a group is stored whole (a varint length, the bytes), and each next one as
/// how many leading bytes it shares with the key before it (a varint), the length of the rest
/// (a varint) and the rest. Ids as tills and back offices issue them are mostly counters, so
/// consecutive ids share all but their last digit or two: `p2968991` after `p2968990` costs 3
/// bytes, not 8. Reading a key decodes its group from the start, so the group size trades
/// memory for lookup time: 1 stores every key whole.
public struct IdTable: Sendable {
    /// A slot holds the key's 32-bit hash tag in its high half and the entry's index + 1 in its
    /// low half (0: empty), so most misses and matches need no look at the keys. The tag also
    /// names the slot a probe starts at, so growing places every slot again from the tag alone
    /// (``TagSlots``), without decoding a key.
    @usableFromInline package var slots: [UInt64]
    @usableFromInline package var mask: Int
    /// The front-coded keys, and where each group's first key starts.
    @usableFromInline package var arena: [UInt8] = []
    @usableFromInline package var groupStarts: [UInt32] = []
    /// log2 of the keys a group holds.
    @usableFromInline package let groupShift: Int
    /// The newest key, which the next one is coded against.
    @usableFromInline package var newest: [UInt8] = []
    /// The longest key's length (the size of the buffer a key is decoded into).
    @usableFromInline package var longest = 0
    /// How many entries.
    @inlinable public var count: Int { storedCount }
    @usableFromInline package var storedCount = 0

    /// A table whose arena groups `groupSize` keys (a power of two).
    @inlinable public init(capacity: Int = 16, groupSize: Int = 1) {
        precondition(groupSize > 0 && groupSize & (groupSize - 1) == 0, "a group size is a power of two")
        var size = 16
        while size * 3 / 4 < capacity { size *= 2 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        groupShift = groupSize.trailingZeroBitCount
    }

    @inline(__always)
    @inlinable package static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        var i = 0
        while i + 8 <= key.count {
            h = (h ^ key.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
            h ^= h >> 31
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < key.count {
            tail |= UInt64(key[i]) << shift
            shift += 8
            i += 1
        }
        h = (h ^ tail) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 29
        return h
    }

    /// Whether two keys are equal (ids are short: eight bytes at a time rather than a memcmp call).
    @inline(__always)
    @inlinable package static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
        guard a.count == b.count else { return false }
        var i = 0
        while i + 8 <= a.count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < a.count {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    /// Calls `body` with the bytes of entry `entry`'s key.
    @inline(__always)
    @inlinable func withKey<R>(_ entry: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        if entry == count - 1 { return newest.withUnsafeBytes(body) }
        return arena.withUnsafeBytes { bytes in
            var i = Int(groupStarts[entry >> groupShift])
            let n = memoryVarint(bytes, &i)
            let steps = entry & ((1 << groupShift) - 1)
            if steps == 0 { return body(UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)])) }
            return withUnsafeTemporaryAllocation(byteCount: longest, alignment: 8) { key in
                key.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + n)]))
                i += n
                var length = n
                for _ in 0..<steps {
                    let shared = memoryVarint(bytes, &i)
                    let rest = memoryVarint(bytes, &i)
                    UnsafeMutableRawBufferPointer(rebasing: key[shared..<(shared + rest)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + rest)]))
                    i += rest
                    length = shared + rest
                }
                return body(UnsafeRawBufferPointer(rebasing: key[0..<length]))
            }
        }
    }

    @inline(__always)
    @inlinable func keyEquals(_ entry: Int, _ key: UnsafeRawBufferPointer) -> Bool { withKey(entry) { Self.same($0, key) } }

    /// The index of `key`, or nil.
    @inlinable public func find(_ key: UnsafeRawBufferPointer) -> Int32? {
        let h = Self.hash(key)
        let tag = h >> 32
        var slot = Int(tag) & mask
        while true {
            let value = slots[slot]
            if value == 0 { return nil }
            let entry = Int(truncatingIfNeeded: value & 0xFFFF_FFFF) - 1
            if value >> 32 == tag && keyEquals(entry, key) { return Int32(entry) }
            slot = (slot + 1) & mask
        }
    }

    @inlinable public func find(_ key: String) -> Int32? {
        var copy = key
        return copy.withUTF8 { find(UnsafeRawBufferPointer($0)) }
    }

    /// Hints the CPU to fetch the slot where a lookup of `key` starts (a rebuild calls it a few
    /// events ahead of the insert). Changes nothing.
    @inline(__always)
    @inlinable package func prefetch(_ key: UnsafeRawBufferPointer) {
        let slot = Int(Self.hash(key) >> 32) & mask
        slots.withUnsafeBufferPointer { ledger_prefetch($0.baseAddress! + slot) }
    }

    /// Starts fetching what lookups of `keys` will read, one stage for every key before the next
    /// (the first slot each hashes to; then the start of the group its tag names; then the
    /// group's bytes), so that the keys' cache misses overlap instead of following one another.
    /// Returns, for each key, the entry its first slot names when the tag matches (-1 when
    /// not): a guess for the caller to prefetch by, never an answer. Changes nothing.
    @inlinable package func prefetchLookups(_ keys: [String]) -> [Int32] {
        var entries = [Int32](repeating: -1, count: keys.count)
        guard count > 0 else { return entries }
        slots.withUnsafeBufferPointer { slots in
            var hashes = [UInt64](repeating: 0, count: keys.count)
            for (k, key) in keys.enumerated() {
                var copy = key
                let h = copy.withUTF8 { Self.hash(UnsafeRawBufferPointer($0)) }
                hashes[k] = h
                ledger_prefetch(slots.baseAddress! + (Int(h >> 32) & mask))
            }
            groupStarts.withUnsafeBufferPointer { starts in
                for k in keys.indices {
                    let h = hashes[k]
                    let value = slots[Int(h >> 32) & mask]
                    guard value != 0, value >> 32 == h >> 32 else { continue }
                    let entry = Int(truncatingIfNeeded: value & 0xFFFF_FFFF) - 1
                    entries[k] = Int32(entry)
                    ledger_prefetch(starts.baseAddress! + (entry >> groupShift))
                }
                arena.withUnsafeBufferPointer { arena in
                    for entry in entries where entry >= 0 {
                        ledger_prefetch(arena.baseAddress! + Int(starts[Int(entry) >> groupShift]))
                    }
                }
            }
        }
        return entries
    }

    /// The index of `key`, adding it when it is new.
    @inlinable public mutating func findOrInsert(_ key: UnsafeRawBufferPointer) -> (index: Int32, inserted: Bool) {
        let h = Self.hash(key)
        let tag = h >> 32
        var slot = Int(tag) & mask
        while true {
            let value = slots[slot]
            if value == 0 { break }
            let entry = Int(truncatingIfNeeded: value & 0xFFFF_FFFF) - 1
            if value >> 32 == tag && keyEquals(entry, key) { return (Int32(entry), false) }
            slot = (slot + 1) & mask
        }
        let index = Int32(count)
        append(key)
        slots[slot] = tag << 32 | UInt64(index + 1)
        if count * 4 > slots.count * 3 { grow() }
        return (index, true)
    }

    @inlinable public mutating func findOrInsert(_ key: String) -> (index: Int32, inserted: Bool) {
        var copy = key
        return copy.withUTF8 { findOrInsert(UnsafeRawBufferPointer($0)) }
    }

    /// Adds a key to the arena: whole at a group's start, else against the newest.
    @inlinable mutating func append(_ key: UnsafeRawBufferPointer) {
        func varint(_ value: Int) { appendMemoryVarint(value, to: &arena) }
        if count & ((1 << groupShift) - 1) == 0 {
            precondition(arena.count <= Int(UInt32.max), "the id arena is limited to 4 GiB")
            groupStarts.append(UInt32(arena.count))
            varint(key.count)
            arena.append(contentsOf: key)
        } else {
            var shared = 0
            let limit = min(newest.count, key.count)
            while shared < limit && newest[shared] == key[shared] { shared += 1 }
            varint(shared)
            varint(key.count - shared)
            arena.append(contentsOf: key[shared...])
        }
        newest.removeAll(keepingCapacity: true)
        newest.append(contentsOf: key)
        longest = max(longest, key.count)
        storedCount += 1
    }

    /// Whether entry `index` has this key (cheaper than a lookup when the index is a good guess).
    @inlinable public func has(_ index: Int32, key: UnsafeRawBufferPointer) -> Bool {
        index >= 0 && Int(index) < count && keyEquals(Int(index), key)
    }

    @inlinable public func has(_ index: Int32, key: String) -> Bool {
        var copy = key
        return copy.withUTF8 { has(index, key: UnsafeRawBufferPointer($0)) }
    }

    /// The key of an index.
    @inlinable public func key(_ index: Int32) -> String { withKey(Int(index)) { String(decoding: $0, as: UTF8.self) } }

    /// The arena's bytes and its group starts (what the keys cost beside the slots).
    @inlinable public var keyBytes: Int { arena.count + groupStarts.count * 4 }

    @inlinable mutating func grow() {
        // Tags have 32 bits: a larger table would leave slots no tag could start at.
        precondition(slots.count < 1 << 32, "the id table is limited to 2^32 slots")
        slots = TagSlots.doubled(slots)
        mask = slots.count - 1
    }

    /// Calls `body` with every key in index order, decoding the arena once.
    @inlinable func forEachKey(_ body: (UnsafeRawBufferPointer) -> Void) {
        guard count > 0 else { return }
        arena.withUnsafeBytes { bytes in
            withUnsafeTemporaryAllocation(byteCount: longest, alignment: 8) { key in
                var i = 0, length = 0
                for entry in 0..<count {
                    let shared = entry & ((1 << groupShift) - 1) == 0 ? 0 : memoryVarint(bytes, &i)
                    let rest = memoryVarint(bytes, &i)
                    UnsafeMutableRawBufferPointer(rebasing: key[shared..<(shared + rest)]).copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[i..<(i + rest)]))
                    i += rest
                    length = shared + rest
                    body(UnsafeRawBufferPointer(rebasing: key[0..<length]))
                }
            }
        }
    }

    /// Every key, in index order (for tests and reports).
    @inlinable public var keys: [String] {
        var keys: [String] = []
        keys.reserveCapacity(count)
        forEachKey { keys.append(String(decoding: $0, as: UTF8.self)) }
        return keys
    }
}

extension IdTable {
    /// Stops the process when the table contradicts itself: the slots (see
    /// ``TagSlots/checkInvariants(_:mask:count:_:)``) name each entry exactly once, under the
    /// tag of its key's hash; each key is found at its index; the groups and the newest key
    /// agree with the arena.
    @inlinable public func checkInvariants() {
        let payloads = TagSlots.checkInvariants(slots, mask: mask, count: count, "id table")
        precondition(Set(payloads).count == count && payloads.allSatisfy { $0 <= UInt64(count) }, "id table: an entry named twice or out of range")
        precondition(groupStarts.count == (count + (1 << groupShift) - 1) >> groupShift, "id table: \(groupStarts.count) groups for \(count) keys")
        var index: Int32 = 0
        var last: [UInt8] = []
        forEachKey { key in
            precondition(key.count <= longest, "id table: key \(index) is longer than the longest")
            precondition(find(key) == index, "id table: key \(index) is not found at its index")
            last = Array(key)
            index += 1
        }
        precondition(index == Int32(count) && (count == 0 || last == newest), "id table: the arena holds \(index) keys, or its last is not the newest")
    }
}
