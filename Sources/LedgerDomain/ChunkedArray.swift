import CPrefetch

/// An array kept in fixed chunks of 4 096 elements, for the million-element projections: it
/// grows a chunk at a time, so growing never copies the whole array nor holds it twice, and it
/// never keeps more than one chunk of slack. Elements are changed in place.
///
/// The chunks are raw allocations owned by one storage object, copied on write as a whole
/// (a reader's snapshot shares it until the writer next changes it). An element access is a
/// shift, a mask and two loads: no reference counting, no per-chunk uniqueness check.
public struct ChunkedArray<Element>: RandomAccessCollection, MutableCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>

    static var shift: Int { 12 }
    static var chunkCount: Int { 1 << shift }
    static var mask: Int { chunkCount - 1 }

    final class Storage {
        // Changed only through a uniquely referenced array: no run-time exclusivity checks.
        @exclusivity(unchecked) var chunks: [UnsafeMutablePointer<Element>] = []
        @exclusivity(unchecked) var count = 0
        /// The leading chunks that lie in a mapped file (see ``init(mapping:count:owner:)``),
        /// and what keeps that mapping alive: they are never deallocated one by one.
        var mapped = 0
        var owner: AnyObject?

        init() {}

        func copy() -> Storage {
            let other = Storage()
            other.chunks.reserveCapacity(chunks.count)
            var left = count
            for chunk in chunks {
                let fresh = UnsafeMutablePointer<Element>.allocate(capacity: ChunkedArray.chunkCount)
                let n = Swift.min(left, ChunkedArray.chunkCount)
                fresh.initialize(from: chunk, count: n)
                other.chunks.append(fresh)
                left -= n
            }
            other.count = count
            return other
        }

        deinit {
            var left = count
            for (k, chunk) in chunks.enumerated() {
                let n = Swift.min(left, ChunkedArray.chunkCount)
                left -= n
                if k < mapped { continue }
                chunk.deinitialize(count: n)
                chunk.deallocate()
            }
        }
    }

    var storage = Storage()

    public init() {}

    /// An array whose elements lie in memory someone else owns, `count` of them from `base` in
    /// whole chunks of ``chunkCount`` (a private writable mapping of a snapshot file: the pages
    /// a writer changes are copied by the kernel, one at a time). `owner` keeps that memory
    /// alive as long as the array needs it. For elements with no references only.
    init(mapping base: UnsafeMutableRawPointer, count: Int, owner: AnyObject) {
        precondition(_isPOD(Element.self), "only plain values may lie in a mapping")
        let chunks = (count + Self.chunkCount - 1) / Self.chunkCount
        let bytes = Self.chunkCount * MemoryLayout<Element>.stride
        storage.chunks = (0..<chunks).map { (base + $0 * bytes).bindMemory(to: Element.self, capacity: Self.chunkCount) }
        storage.count = count
        storage.mapped = chunks
        storage.owner = owner
    }

    /// How many elements a chunk holds.
    static var elementsPerChunk: Int { chunkCount }

    public var count: Int { storage.count }
    public var startIndex: Int { 0 }
    public var endIndex: Int { storage.count }
    public var indices: Range<Int> { 0..<storage.count }
    public var isEmpty: Bool { storage.count == 0 }

    @inline(__always)
    public subscript(i: Int) -> Element {
        get {
            precondition(i >= 0 && i < storage.count, "index \(i) out of range 0..<\(storage.count)")
            return storage.chunks[i >> Self.shift][i & Self.mask]
        }
        _modify {
            precondition(i >= 0 && i < storage.count, "index \(i) out of range 0..<\(storage.count)")
            makeUnique()
            yield &storage.chunks[i >> Self.shift][i & Self.mask]
        }
    }

    @inline(__always)
    mutating func makeUnique() {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
    }

    public mutating func append(_ element: Element) {
        makeUnique()
        let i = storage.count
        if i & Self.mask == 0 { storage.chunks.append(.allocate(capacity: Self.chunkCount)) }
        (storage.chunks[i >> Self.shift] + (i & Self.mask)).initialize(to: element)
        storage.count = i + 1
    }

    /// Hints the CPU to fetch the cache lines at these byte offsets of element `i` ahead of
    /// use. Never faults and changes nothing.
    @inline(__always)
    func prefetch(_ i: Int, offsets first: Int, _ second: Int) {
        guard i >= 0 && i < storage.count else { return }
        let address = UnsafeRawPointer(storage.chunks[i >> Self.shift] + (i & Self.mask))
        ledger_prefetch(address + first)
        if second != first { ledger_prefetch(address + second) }
    }
}

// The storage is only changed through a uniquely referenced ChunkedArray (copy on write), so
// sharing it between values in different threads is as safe as sharing an Array.
extension ChunkedArray: @unchecked Sendable where Element: Sendable {}
