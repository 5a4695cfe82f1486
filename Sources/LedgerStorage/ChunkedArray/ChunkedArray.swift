import CPrefetch

/// An array kept in fixed chunks of 4 096 elements, for the million-element projections: it
/// grows a chunk at a time, so growing never copies the whole array nor holds it twice, and it
/// never keeps more than one chunk of slack. Elements are changed in place.
///
/// Copy on write **by chunk**: a copy of the array (a background snapshot's copy of the state)
/// shares every chunk; the first write to a shared chunk copies that chunk alone (4 096
/// elements), so a writer beside a snapshot in progress copies what it touches, not the table.
/// A read is a shift, a mask and two loads, with no reference counting; a write also checks
/// that its chunk is not shared.
public struct ChunkedArray<Element>: RandomAccessCollection, MutableCollection {
    public typealias Index = Int
    public typealias Indices = Range<Int>

    @inlinable package static var shift: Int { 12 }
    @inlinable package static var chunkCount: Int { 1 << shift }
    @inlinable package static var mask: Int { chunkCount - 1 }

    /// One chunk's memory and who owns it: freed when the last array holding it lets go,
    /// unless it lies in a mapped file (then `owner` keeps the mapping alive).
    @usableFromInline package final class Chunk {
        @usableFromInline package let base: UnsafeMutablePointer<Element>
        /// Elements initialized in it (only a chunk held by one array grows).
        @usableFromInline package var count: Int
        @usableFromInline package let owner: AnyObject?

        @inlinable package init(capacity: Int) {
            base = .allocate(capacity: capacity)
            count = 0
            owner = nil
        }

        @inlinable package init(mapped base: UnsafeMutablePointer<Element>, count: Int, owner: AnyObject) {
            self.base = base
            self.count = count
            self.owner = owner
        }

        /// A private copy of this chunk's elements, with room for a whole chunk.
        @inlinable package func copy() -> Chunk {
            let fresh = Chunk(capacity: ChunkedArray.chunkCount)
            fresh.base.initialize(from: base, count: count)
            fresh.count = count
            return fresh
        }

        @inlinable package var isMapped: Bool { owner != nil }

        deinit {
            guard owner == nil else { return }
            base.deinitialize(count: count)
            base.deallocate()
        }
    }

    @usableFromInline package final class Storage {
        // Changed only through a uniquely referenced storage: no run-time exclusivity checks.
        /// Where each chunk's elements are (what reads use), and the chunks themselves (what
        /// ownership and the per-chunk copy on write use), in step.
        @exclusivity(unchecked) @usableFromInline package var pointers: [UnsafeMutablePointer<Element>] = []
        @exclusivity(unchecked) @usableFromInline package var chunks: [Chunk] = []
        @exclusivity(unchecked) @usableFromInline package var count = 0
        /// Whether some chunks may be shared with another storage; while so, `verified` says
        /// which are known to be this storage's alone, and `unverified` how many are not yet.
        /// A storage never copied skips the per-chunk check entirely.
        @exclusivity(unchecked) @usableFromInline package var mayShare = false
        @exclusivity(unchecked) @usableFromInline package var verified: [Bool] = []
        @exclusivity(unchecked) @usableFromInline package var unverified = 0

        @inlinable package init() {}

        /// Another storage sharing every chunk (copied one by one as they are written). Both
        /// now check a chunk before its first write.
        @inlinable package func copy() -> Storage {
            let other = Storage()
            other.pointers = pointers
            other.chunks = chunks
            other.count = count
            other.markShared()
            markShared()
            return other
        }

        @inlinable func markShared() {
            mayShare = true
            verified = [Bool](repeating: false, count: chunks.count)
            unverified = chunks.count
        }
    }

    @usableFromInline package var storage = Storage()

    @inlinable public init() {}

    /// An array whose elements lie in memory someone else owns, `count` of them from `base` in
    /// whole chunks of ``chunkCount`` (a private writable mapping of a snapshot file: the pages
    /// a writer changes are copied by the kernel, one at a time). `owner` keeps that memory
    /// alive as long as the array needs it. For elements with no references only.
    @inlinable package init(mapping base: UnsafeMutableRawPointer, count: Int, owner: AnyObject) {
        precondition(_isPOD(Element.self), "only plain values may lie in a mapping")
        let chunks = (count + Self.chunkCount - 1) / Self.chunkCount
        let bytes = Self.chunkCount * MemoryLayout<Element>.stride
        for k in 0..<chunks {
            let pointer = (base + k * bytes).bindMemory(to: Element.self, capacity: Self.chunkCount)
            storage.chunks.append(Chunk(mapped: pointer, count: Swift.min(Self.chunkCount, count - k * Self.chunkCount), owner: owner))
            storage.pointers.append(pointer)
        }
        storage.count = count
    }

    /// How many elements a chunk holds.
    @inlinable package static var elementsPerChunk: Int { chunkCount }

    /// How many chunks lie in a mapped file (for tests and reports).
    @inlinable package var mappedChunks: Int { storage.chunks.lazy.filter(\.isMapped).count }

    @inlinable public var count: Int { storage.count }
    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { storage.count }
    @inlinable public var indices: Range<Int> { 0..<storage.count }
    @inlinable public var isEmpty: Bool { storage.count == 0 }

    @inline(__always)
    @inlinable public subscript(i: Int) -> Element {
        get {
            precondition(i >= 0 && i < storage.count, "index \(i) out of range 0..<\(storage.count)")
            return storage.pointers[i >> Self.shift][i & Self.mask]
        }
        _modify {
            precondition(i >= 0 && i < storage.count, "index \(i) out of range 0..<\(storage.count)")
            let c = i >> Self.shift
            makeUnique(chunk: c)
            yield &storage.pointers[c][i & Self.mask]
        }
    }

    /// Element `i` where it lies: `array[inPlace: i].field` reads one field of a large element
    /// without copying the rest of it.
    @inline(__always)
    @inlinable package subscript(inPlace i: Int) -> Element {
        unsafeAddress {
            precondition(i >= 0 && i < storage.count, "index \(i) out of range 0..<\(storage.count)")
            return UnsafePointer(storage.pointers[i >> Self.shift] + (i & Self.mask))
        }
    }

    /// Makes the storage, and chunk `c` in it, this array's alone.
    @inline(__always)
    @inlinable package mutating func makeUnique(chunk c: Int) {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        if storage.mayShare { unshare(chunk: c) }
    }

    /// The first write to chunk `c` since the storage was copied: copy the chunk if another
    /// storage still holds it.
    @inlinable mutating func unshare(chunk c: Int) {
        guard !storage.verified[c] else { return }
        if !isKnownUniquelyReferenced(&storage.chunks[c]) {
            let fresh = storage.chunks[c].copy()
            storage.chunks[c] = fresh
            storage.pointers[c] = fresh.base
        }
        storage.verified[c] = true
        storage.unverified -= 1
        if storage.unverified == 0 {
            storage.mayShare = false
            storage.verified = []
        }
    }

    @inlinable public mutating func append(_ element: Element) {
        let i = storage.count
        if i & Self.mask == 0 {
            if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
            let chunk = Chunk(capacity: Self.chunkCount)
            storage.chunks.append(chunk)
            storage.pointers.append(chunk.base)
            if storage.mayShare { storage.verified.append(true) }
        } else {
            makeUnique(chunk: i >> Self.shift)
        }
        let c = i >> Self.shift
        (storage.pointers[c] + (i & Self.mask)).initialize(to: element)
        storage.chunks[c].count += 1
        storage.count = i + 1
    }

    /// Hints the CPU to fetch the cache lines at these byte offsets of element `i` ahead of
    /// use. Never faults and changes nothing.
    @inline(__always)
    @inlinable package func prefetch(_ i: Int, offsets first: Int, _ second: Int) {
        guard i >= 0 && i < storage.count else { return }
        let address = UnsafeRawPointer(storage.pointers[i >> Self.shift] + (i & Self.mask))
        ledger_prefetch(address + first)
        if second != first { ledger_prefetch(address + second) }
    }
}

// The storage and its chunks are only changed through a uniquely referenced ChunkedArray and
// chunk (copy on write), so sharing them between values in different threads is as safe as
// sharing an Array.
extension ChunkedArray: @unchecked Sendable where Element: Sendable {}

extension ChunkedArray {
    /// Stops the process when the array's storage contradicts itself: a chunk for every 4 096
    /// elements and no more, each full but the last, each chunk's pointer its own, and what
    /// ``Storage/verified`` says known as this storage's alone counted right.
    @inlinable public func checkInvariants() {
        let s = storage
        precondition(s.chunks.count == (s.count + Self.chunkCount - 1) >> Self.shift && s.pointers.count == s.chunks.count,
                     "chunked array: \(s.chunks.count) chunks and \(s.pointers.count) pointers for \(s.count) elements")
        for (k, chunk) in s.chunks.enumerated() {
            let expected = k == s.chunks.count - 1 ? s.count - k * Self.chunkCount : Self.chunkCount
            precondition(chunk.count == expected && s.pointers[k] == chunk.base, "chunked array: chunk \(k) holds \(chunk.count) elements, not \(expected), or its pointer is not its own")
        }
        if s.mayShare {
            precondition(s.verified.count == s.chunks.count && s.unverified == s.verified.count { !$0 }, "chunked array: the chunks known unshared are miscounted")
        }
    }
}
