/// Values for some of a growing run of indexes, each set once as its index is made (what a
/// receipt spent): two flat arrays searched by halving, 12 bytes an entry where a dictionary
/// takes 27 at its usual load.
@usableFromInline package struct AscendingValues: Sendable {
    @inlinable package init() {}
    @usableFromInline package var indexes: [Int32] = []
    @usableFromInline package var values: [Int64] = []

    @inlinable package var count: Int { indexes.count }

    @inlinable package mutating func append(_ index: Int32, _ value: Int64) {
        precondition(indexes.last.map { $0 < index } ?? true, "indexes are appended in ascending order")
        indexes.append(index)
        values.append(value)
    }

    @inlinable package subscript(index: Int32) -> Int64? {
        var low = 0, high = indexes.count
        while low < high {
            let mid = (low + high) / 2
            if indexes[mid] < index { low = mid + 1 } else { high = mid }
        }
        return low < indexes.count && indexes[low] == index ? values[low] : nil
    }
}

extension AscendingValues {
    /// Stops the process when the indexes do not strictly ascend, or the two arrays differ in length.
    @inlinable package func checkInvariants() {
        precondition(indexes.count == values.count, "ascending values: \(indexes.count) indexes, \(values.count) values")
        precondition(zip(indexes, indexes.dropFirst()).allSatisfy { $0 < $1 }, "ascending values: the indexes do not ascend")
    }
}
