/// Positions that never decrease, in 4 bytes each: their low 32 bits, and the index at which
/// each higher word begins (a few entries for any log this side of 2⁴⁰ events).
@usableFromInline package struct AscendingPositions: Sendable {
    @inlinable package init() {}
    @usableFromInline package var low: [UInt32] = []
    /// `starts[k]`: the first index whose position is at or above (k + 1) · 2³².
    @usableFromInline package var starts: [Int] = []

    @inlinable package var count: Int { low.count }

    @inlinable package mutating func append(_ position: UInt64) {
        let high = Int(position >> 32)
        precondition(high >= starts.count && (low.isEmpty || position >= self[low.count - 1]), "positions only grow")
        while starts.count < high { starts.append(low.count) }
        low.append(UInt32(truncatingIfNeeded: position))
    }

    @inlinable package subscript(i: Int) -> UInt64 {
        // The high word: how many word starts are at or before i.
        var lo = 0, hi = starts.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if starts[mid] <= i { lo = mid + 1 } else { hi = mid }
        }
        return UInt64(lo) << 32 | UInt64(low[i])
    }
}

extension AscendingPositions {
    /// Stops the process when the positions do not ascend, or the starts of their high words
    /// do not ascend within them.
    @inlinable package func checkInvariants() {
        precondition(zip(starts, starts.dropFirst()).allSatisfy { $0 <= $1 } && (starts.last ?? 0) <= low.count, "ascending positions: the word starts")
        for i in 1..<max(1, count) { precondition(self[i - 1] <= self[i], "ascending positions: position \(i) is below the one before") }
    }
}
