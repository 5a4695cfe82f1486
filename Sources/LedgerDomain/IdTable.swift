import LedgerBytes
import CPrefetch
import Glibc

/// A varint (LEB128) in the state's own memory (the id table's arena, the text arena): written
/// and read here only, so it is trusted and read without bounds checks beyond the buffer's.
@inline(__always)
func memoryVarint(_ bytes: UnsafeRawBufferPointer, _ i: inout Int) -> Int { Varint.readTrusted(bytes, &i) }

@inline(__always)
func appendMemoryVarint(_ value: Int, to bytes: inout [UInt8]) { Varint.append(UInt64(value), to: &bytes) }

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
    var slots: [UInt64]
    var mask: Int
    /// The front-coded keys, and where each group's first key starts.
    var arena: [UInt8] = []
    var groupStarts: [UInt32] = []
    /// log2 of the keys a group holds.
    let groupShift: Int
    /// The newest key, which the next one is coded against.
    var newest: [UInt8] = []
    /// The longest key's length (the size of the buffer a key is decoded into).
    var longest = 0
    public internal(set) var count = 0

    /// A table whose arena groups `groupSize` keys (a power of two).
    public init(capacity: Int = 16, groupSize: Int = 1) {
        precondition(groupSize > 0 && groupSize & (groupSize - 1) == 0, "a group size is a power of two")
        var size = 16
        while size * 3 / 4 < capacity { size *= 2 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        groupShift = groupSize.trailingZeroBitCount
    }

    @inline(__always)
    static func hash(_ key: UnsafeRawBufferPointer) -> UInt64 {
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
    static func same(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
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
    private func withKey<R>(_ entry: Int, _ body: (UnsafeRawBufferPointer) -> R) -> R {
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
    private func keyEquals(_ entry: Int, _ key: UnsafeRawBufferPointer) -> Bool { withKey(entry) { Self.same($0, key) } }

    /// The index of `key`, or nil.
    public func find(_ key: UnsafeRawBufferPointer) -> Int32? {
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

    public func find(_ key: String) -> Int32? {
        var copy = key
        return copy.withUTF8 { find(UnsafeRawBufferPointer($0)) }
    }

    /// Hints the CPU to fetch the slot where a lookup of `key` starts (a rebuild calls it a few
    /// events ahead of the insert). Changes nothing.
    @inline(__always)
    func prefetch(_ key: UnsafeRawBufferPointer) {
        let slot = Int(Self.hash(key) >> 32) & mask
        slots.withUnsafeBufferPointer { ledger_prefetch($0.baseAddress! + slot) }
    }

    /// Starts fetching what lookups of `keys` will read, one stage for every key before the next
    /// (the first slot each hashes to; then the start of the group its tag names; then the
    /// group's bytes), so that the keys' cache misses overlap instead of following one another.
    /// Returns, for each key, the entry its first slot names when the tag matches (-1 when
    /// not): a guess for the caller to prefetch by, never an answer. Changes nothing.
    func prefetchLookups(_ keys: [String]) -> [Int32] {
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
    public mutating func findOrInsert(_ key: UnsafeRawBufferPointer) -> (index: Int32, inserted: Bool) {
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

    public mutating func findOrInsert(_ key: String) -> (index: Int32, inserted: Bool) {
        var copy = key
        return copy.withUTF8 { findOrInsert(UnsafeRawBufferPointer($0)) }
    }

    /// Adds a key to the arena: whole at a group's start, else against the newest.
    private mutating func append(_ key: UnsafeRawBufferPointer) {
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
        count += 1
    }

    /// Whether entry `index` has this key (cheaper than a lookup when the index is a good guess).
    public func has(_ index: Int32, key: UnsafeRawBufferPointer) -> Bool {
        index >= 0 && Int(index) < count && keyEquals(Int(index), key)
    }

    public func has(_ index: Int32, key: String) -> Bool {
        var copy = key
        return copy.withUTF8 { has(index, key: UnsafeRawBufferPointer($0)) }
    }

    /// The key of an index.
    public func key(_ index: Int32) -> String { withKey(Int(index)) { String(decoding: $0, as: UTF8.self) } }

    /// The arena's bytes and its group starts (what the keys cost beside the slots).
    public var keyBytes: Int { arena.count + groupStarts.count * 4 }

    private mutating func grow() {
        // Tags have 32 bits: a larger table would leave slots no tag could start at.
        precondition(slots.count < 1 << 32, "the id table is limited to 2^32 slots")
        slots = TagSlots.doubled(slots)
        mask = slots.count - 1
    }

    /// Calls `body` with every key in index order, decoding the arena once.
    private func forEachKey(_ body: (UnsafeRawBufferPointer) -> Void) {
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
    public var keys: [String] {
        var keys: [String] = []
        keys.reserveCapacity(count)
        forEachKey { keys.append(String(decoding: $0, as: UTF8.self)) }
        return keys
    }
}

/// Slot tables of 8-byte slots holding a 32-bit hash tag in the high half, which also names the
/// slot a probe starts at, and a payload in the low half (0: empty): ``HolderIndex`` and
/// ``KeyIndex``. Linear probing.
enum TagSlots {
    /// The table twice as large, each slot placed again from its tag alone.
    static func doubled(_ old: [UInt64]) -> [UInt64] {
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

/// Who holds a key (a phone, a card): a hash table of 8-byte slots holding a 32-bit hash tag and
/// the holder's client number, and no keys. A tag match is confirmed by asking whether that
/// client holds the key (its profile in the text arena says), so a million phones cost 16 MB
/// rather than a dictionary of strings. Linear probing from the slot the tag names; removal
/// shifts the run back (no tombstones); load at most 3/4.
struct HolderIndex: Sendable {
    var slots = [UInt64](repeating: 0, count: 16)
    var mask = 15
    var count = 0

    @inline(__always)
    private static func tag(_ key: String) -> UInt64 {
        var copy = key
        return copy.withUTF8 { IdTable.hash(UnsafeRawBufferPointer($0)) >> 32 }
    }

    /// The client holding `key`: a slot whose tag matches and whose client `holds` it.
    func find(_ key: String, holds: (Int32, String) -> Bool) -> Int32? {
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
    mutating func set(_ key: String, to holder: Int32, holds: (Int32, String) -> Bool) {
        set(tag: Self.tag(key), to: holder) { holds($0, key) }
    }

    /// The same, for a key in bytes (as a rebuild reads it).
    mutating func set(_ key: UnsafeRawBufferPointer, to holder: Int32, holds: (Int32, String) -> Bool) {
        set(tag: IdTable.hash(key) >> 32, to: holder) { holds($0, String(decoding: key, as: UTF8.self)) }
    }

    private mutating func set(tag: UInt64, to holder: Int32, holds: (Int32) -> Bool) {
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
    mutating func remove(_ key: String, heldBy holder: Int32) {
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

    private mutating func grow() {
        slots = TagSlots.doubled(slots)
        mask = slots.count - 1
    }
}

/// Idempotency keys without their bytes: a hash table of 8-byte slots, each holding a key's
/// 32-bit hash tag and its entry's index + 1 (0: empty). The bytes stay in the log, in the
/// record the entry's answer starts at, so a tag match is a candidate that the caller confirms
/// (``LedgerState`` asks the log, or the keys it still holds). Three million keys cost 34 MB
/// of slots here rather than 83 MB with their bytes (MB = 10⁶ bytes). Entries are only added: linear probing
/// from the slot the tag names, load at most 3/4, growth rehashes tags alone.
public struct KeyIndex: Sendable {
    var slots = [UInt64](repeating: 0, count: 16)
    var mask = 15
    public internal(set) var count = 0

    public init() {}

    @inline(__always)
    static func tag(_ key: UnsafeRawBufferPointer) -> UInt64 { IdTable.hash(key) >> 32 }

    /// Calls `body` with every entry whose tag is `key`'s (the candidates for `key`).
    func forEachCandidate(_ key: UnsafeRawBufferPointer, _ body: (Int32) throws -> Void) rethrows {
        let tag = Self.tag(key)
        var slot = Int(tag) & mask
        while slots[slot] != 0 {
            if slots[slot] >> 32 == tag { try body(Int32(truncatingIfNeeded: slots[slot] & 0xFFFF_FFFF) - 1) }
            slot = (slot + 1) & mask
        }
    }

    /// Adds `key` as the next entry (the caller knows it is new) and returns its index.
    mutating func insert(_ key: UnsafeRawBufferPointer) -> Int32 {
        let tag = Self.tag(key)
        var slot = Int(tag) & mask
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        let index = Int32(count)
        slots[slot] = tag << 32 | UInt64(index + 1)
        count += 1
        if count * 4 > slots.count * 3 { grow() }
        return index
    }

    /// Hints the CPU to fetch the slot where `key`'s probe starts. Changes nothing.
    @inline(__always)
    func prefetch(_ key: UnsafeRawBufferPointer) {
        let slot = Int(Self.tag(key)) & mask
        slots.withUnsafeBufferPointer { ledger_prefetch($0.baseAddress! + slot) }
    }

    private mutating func grow() {
        slots = TagSlots.doubled(slots)
        mask = slots.count - 1
    }
}

/// The bytes of idempotency keys that a ``KeyIndex`` cannot confirm against the log (yet): the
/// keys of a run of consecutive entries (entries are only ever added), back to back.
struct HeldKeys: Sendable {
    /// Entries `from ..< from + ends.count` are held in `arena`; entry `from + k` ends at `ends[k]`.
    private var from: Int32 = 0
    private var arena: [UInt8] = []
    private var ends: [UInt32] = []

    var count: Int { ends.count }

    mutating func hold(_ index: Int32, _ key: UnsafeRawBufferPointer) {
        if ends.isEmpty { from = index }
        precondition(index == from + Int32(ends.count), "held keys are those of consecutive entries")
        arena.append(contentsOf: key)
        ends.append(UInt32(arena.count))
    }

    private func range(_ index: Int32) -> Range<Int>? {
        guard index >= from, Int(index - from) < ends.count else { return nil }
        let k = Int(index - from)
        return (k == 0 ? 0 : Int(ends[k - 1]))..<Int(ends[k])
    }

    /// Whether entry `index` is `key`; nil when its bytes are not held.
    func matches(_ index: Int32, _ key: UnsafeRawBufferPointer) -> Bool? {
        guard let range = range(index) else { return nil }
        return arena.withUnsafeBytes { IdTable.same(UnsafeRawBufferPointer(rebasing: $0[range]), key) }
    }

    func bytes(_ index: Int32) -> [UInt8]? { range(index).map { Array(arena[$0]) } }

    /// How many of the newest keys stay held after the log has them: a till's retry comes
    /// within minutes, and is then answered without reading the log (about 1 MB).
    static let recentKept = 1 << 16

    /// Lets go of the entries, from the first held, that `readable` says the log can give back,
    /// but for the newest `keepingLast`. `readable` must hold for a prefix of the entries (their
    /// answers' positions ascend, and the log gives back those below its end): the prefix is
    /// found by bisection, since a walk from the first would cross up to twice `kept` entries on
    /// every submit.
    mutating func release(keepingLast kept: Int = 0, _ readable: (Int32) -> Bool) {
        var k = 0, beyond = max(0, ends.count - kept)
        while k < beyond {
            let middle = (k + beyond) / 2
            if readable(from + Int32(middle)) { k = middle + 1 } else { beyond = middle }
        }
        // Dropping a prefix moves what stays behind it: done when all goes, or once at least as
        // much goes as stays (so each key is moved a bounded number of times).
        guard k > 0, k == ends.count || k >= ends.count - k else { return }
        if k == ends.count {
            arena.removeAll(keepingCapacity: arena.count <= 1 << 16)
            ends.removeAll(keepingCapacity: ends.count <= 1 << 12)
        } else {
            let cut = ends[k - 1]
            arena.removeFirst(Int(cut))
            ends = ends[k...].map { $0 - cut }
        }
        from += Int32(k)
    }
}

/// Positions that never decrease, in 4 bytes each: their low 32 bits, and the index at which
/// each higher word begins (a few entries for any log this side of 2⁴⁰ events).
struct AscendingPositions: Sendable {
    var low: [UInt32] = []
    /// `starts[k]`: the first index whose position is at or above (k + 1) · 2³².
    var starts: [Int] = []

    var count: Int { low.count }

    mutating func append(_ position: UInt64) {
        let high = Int(position >> 32)
        precondition(high >= starts.count && (low.isEmpty || position >= self[low.count - 1]), "positions only grow")
        while starts.count < high { starts.append(low.count) }
        low.append(UInt32(truncatingIfNeeded: position))
    }

    subscript(i: Int) -> UInt64 {
        // The high word: how many word starts are at or before i.
        var lo = 0, hi = starts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if starts[mid] <= i { lo = mid + 1 } else { hi = mid }
        }
        return UInt64(lo) << 32 | UInt64(low[i])
    }
}
