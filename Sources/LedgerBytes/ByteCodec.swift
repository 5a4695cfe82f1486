/// A growable byte buffer the writer owns and reuses: raw little-endian stores and LEB128
/// varints with one capacity check per record, not per byte. The unsafe code of encoding
/// lives here and in ``ByteReader``.
///
/// A buffer has one owner at a time (the writer, a builder, a command being encoded), so its
/// fields skip the run-time exclusivity checks that would otherwise cost a call per byte written.
public final class WriteBuffer {
    @exclusivity(unchecked) @usableFromInline var base: UnsafeMutableRawPointer
    @exclusivity(unchecked) @usableFromInline var capacity: Int
    /// Bytes written so far.
    public var count: Int { written }
    @exclusivity(unchecked) @usableFromInline var written: Int = 0

    public init(capacity: Int = 64 * 1024) {
        self.capacity = max(capacity, 64)
        self.base = .allocate(byteCount: self.capacity, alignment: 16)
    }

    deinit { base.deallocate() }

    /// Forgets the content, keeps the memory.
    public func removeAll() { written = 0 }

    /// Makes room for `extra` more bytes.
    @inlinable
    public func reserve(_ extra: Int) {
        if written + extra > capacity { grow(to: written + extra) }
    }

    @usableFromInline
    func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
        newBase.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Appends a LEB128 varint. The caller has reserved room (10 bytes at most).
    @inlinable
    public func putVarint(_ value: UInt64) {
        Varint.write(value) { byte in
            base.storeBytes(of: byte, toByteOffset: written, as: UInt8.self)
            written += 1
        }
    }

    @inlinable
    public func putBytes(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        (base + written).copyMemory(from: source, byteCount: bytes.count)
        written += bytes.count
    }

    /// Appends a fixed-width little-endian integer. The caller has reserved room.
    @inlinable
    public func putLittleEndian<T: FixedWidthInteger>(_ value: T) {
        base.storeBytes(of: value.littleEndian, toByteOffset: written, as: T.self)
        written += MemoryLayout<T>.size
    }

    /// Appends `n` zero bytes (reserving room for them).
    public func putZeros(_ n: Int) {
        reserve(n)
        (base + written).initializeMemory(as: UInt8.self, repeating: 0, count: n)
        written += n
    }

    /// Overwrites a fixed-width little-endian integer at `offset` (inside what is written).
    @inlinable
    public func setLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        precondition(offset >= 0 && offset + MemoryLayout<T>.size <= count, "setLittleEndian outside the written bytes")
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }

    /// Gives the written bytes to `body`, read-only.
    @inlinable
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Gives the bytes `[offset, offset + length)` to `body`, writable, for patching in place.
    @inlinable
    public func withUnsafeMutableBytes<R>(from offset: Int = 0, _ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        precondition(offset >= 0 && offset <= count)
        return try body(UnsafeMutableRawBufferPointer(start: base + offset, count: count - offset))
    }

    /// Gives `body` room for up to `maxBytes` more bytes at the end; `body` returns how many it
    /// wrote, and they become part of the buffer.
    @inlinable
    public func appendUninitialized(maxBytes: Int, _ body: (UnsafeMutableRawBufferPointer) throws -> Int) rethrows {
        reserve(maxBytes)
        let produced = try body(UnsafeMutableRawBufferPointer(start: base + written, count: maxBytes))
        precondition(produced >= 0 && produced <= maxBytes)
        written += produced
    }

    /// A copy of the written bytes.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }
}

/// A bounds-checked cursor over bytes someone else owns: every read that would run past the
/// end returns nil instead of trapping, because these bytes come from disk and may be damaged.
public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public var offset: Int

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    @inlinable
    public var remaining: Int { bytes.count - offset }

    @inlinable @inline(__always)
    public mutating func readVarint() -> UInt64? {
        // Most varints read (field keys, lengths, type codes, small numbers) are one byte:
        // that case is inlined where it is read; the loop is a call.
        if offset < bytes.count {
            let byte = bytes[offset]
            if byte < 0x80 {
                offset += 1
                return UInt64(byte)
            }
        }
        return readLongVarint()
    }

    @usableFromInline
    mutating func readLongVarint() -> UInt64? {
        var at = offset
        guard let value = Varint.read(bytes, at: &at) else {
            offset = at
            return nil
        }
        offset = at
        return value
    }

    @inlinable
    public mutating func readLittleEndian<T: FixedWidthInteger>(_: T.Type = T.self) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        offset += size
        return value
    }

    /// The next `count` bytes as a slice of the underlying buffer (no copy).
    @inlinable @inline(__always)
    public mutating func readBytes(_ count: Int) -> UnsafeRawBufferPointer? {
        guard count >= 0, remaining >= count else { return nil }
        // In bounds (checked just above): made from the base address, not a checked slice.
        let slice = UnsafeRawBufferPointer(start: bytes.baseAddress.map { $0 + offset }, count: count)
        offset += count
        return slice
    }

    /// A fixed-width little-endian integer at `at`, without moving the cursor.
    @inlinable
    public func getLittleEndian<T: FixedWidthInteger>(_: T.Type = T.self, at: Int) -> T? {
        guard at >= 0, at + MemoryLayout<T>.size <= bytes.count else { return nil }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self))
    }
}
