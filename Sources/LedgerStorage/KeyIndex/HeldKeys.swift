import LedgerBytes
import CPrefetch
import Glibc

/// The bytes of idempotency keys that a ``KeyIndex`` cannot confirm against the log (yet): the
/// keys of a run of consecutive entries (entries are only ever added), back to back.
@usableFromInline package struct HeldKeys: Sendable {
    @inlinable package init() {}
    /// Entries `from ..< from + ends.count` are held in `arena`; entry `from + k` ends at `ends[k]`.
    @usableFromInline var from: Int32 = 0
    @usableFromInline var arena: [UInt8] = []
    @usableFromInline var ends: [UInt32] = []

    @inlinable package var count: Int { ends.count }

    @inlinable package mutating func hold(_ index: Int32, _ key: UnsafeRawBufferPointer) {
        if ends.isEmpty { from = index }
        precondition(index == from + Int32(ends.count), "held keys are those of consecutive entries")
        arena.append(contentsOf: key)
        ends.append(UInt32(arena.count))
    }

    @inlinable func range(_ index: Int32) -> Range<Int>? {
        guard index >= from, Int(index - from) < ends.count else { return nil }
        let k = Int(index - from)
        return (k == 0 ? 0 : Int(ends[k - 1]))..<Int(ends[k])
    }

    /// Whether entry `index` is `key`; nil when its bytes are not held.
    @inlinable package func matches(_ index: Int32, _ key: UnsafeRawBufferPointer) -> Bool? {
        guard let range = range(index) else { return nil }
        return arena.withUnsafeBytes { IdTable.same(UnsafeRawBufferPointer(rebasing: $0[range]), key) }
    }

    @inlinable package func bytes(_ index: Int32) -> [UInt8]? { range(index).map { Array(arena[$0]) } }

    /// How many of the newest keys stay held after the log has them: a till's retry comes
    /// within minutes, and is then answered without reading the log (about 1 MB).
    @usableFromInline package static let recentKept = 1 << 16

    /// Lets go of the entries, from the first held, that `readable` says the log can give back,
    /// but for the newest `keepingLast`. `readable` must hold for a prefix of the entries (their
    /// answers' positions ascend, and the log gives back those below its end): the prefix is
    /// found by bisection, since a walk from the first would cross up to twice `kept` entries on
    /// every submit.
    @inlinable package mutating func release(keepingLast kept: Int = 0, _ readable: (Int32) -> Bool) {
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

extension HeldKeys {
    /// Stops the process when the held keys contradict themselves: their ends ascend within
    /// the arena, and they are entries of an index of `entries`.
    @inlinable package func checkInvariants(entries: Int) {
        precondition(from >= 0 && Int(from) + ends.count <= entries, "held keys: entries \(from)..<\(Int(from) + ends.count) of \(entries)")
        precondition(zip(ends, ends.dropFirst()).allSatisfy { $0 <= $1 } && Int(ends.last ?? 0) == arena.count, "held keys: the ends do not ascend to the arena's end")
    }
}
