import CPrefetch

/// An array kept in fixed chunks of 4 096 elements, for the million-element projections: it
/// grows a chunk at a time, so growing never copies the whole array nor holds it twice, and it
/// never keeps more than one chunk of slack. Elements are changed in place.
public struct ChunkedArray<Element>: RandomAccessCollection, MutableCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>

    @usableFromInline static var shift: Int { 12 }
    @usableFromInline static var mask: Int { (1 << shift) - 1 }

    @usableFromInline var chunks: [[Element]] = []
    public private(set) var count = 0

    public init() {}

    public var startIndex: Int { 0 }
    public var endIndex: Int { count }
    public var indices: Range<Int> { 0..<count }

    @inlinable
    public subscript(i: Int) -> Element {
        get {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            return chunks[i >> Self.shift][i & Self.mask]
        }
        _modify {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            yield &chunks[i >> Self.shift][i & Self.mask]
        }
    }

    public mutating func append(_ element: Element) {
        if count & Self.mask == 0 {
            var chunk: [Element] = []
            chunk.reserveCapacity(1 << Self.shift)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(element)
        count += 1
    }

    public var isEmpty: Bool { count == 0 }
}

extension ChunkedArray: Sendable where Element: Sendable {}

extension ChunkedArray {
    /// Hints the CPU to fetch element `i`'s bytes (`lines` cache lines from its start) ahead of
    /// use. Never faults and changes nothing.
    @inline(__always)
    func prefetch(_ i: Int, lines: Int) {
        guard i >= 0 && i < count else { return }
        chunks[i >> Self.shift].withUnsafeBufferPointer { chunk in
            let address = UnsafeRawPointer(chunk.baseAddress! + (i & Self.mask))
            for line in 0..<lines { ledger_prefetch(address + line * 64) }
        }
    }
}
