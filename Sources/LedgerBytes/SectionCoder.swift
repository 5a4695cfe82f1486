#if _endian(big)
#error("snapshot sections copy arrays of integers as they lie in memory: little-endian hosts only")
#endif

/// Writes the body of one section of a snapshot file (data-format.md §13): little-endian
/// integers, and arrays as a count followed by their elements. The bytes go to `sink` in
/// pieces of about 4 MiB as they are made, so a section of hundreds of megabytes never sits in
/// memory whole; the first error the sink throws stops the writing and is rethrown by
/// ``finish()``.
public final class SectionEncoder {
    private let buffer = WriteBuffer(capacity: 1 << 20)
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private var failure: (any Error)?
    /// Bytes handed on so far, and written in all.
    private var flushed = 0
    public var count: Int { flushed + buffer.count }

    static let flushBytes = 4 << 20

    public init(sink: @escaping (UnsafeRawBufferPointer) throws -> Void) { self.sink = sink }

    private func flushIfFull() {
        if buffer.count >= Self.flushBytes { flush() }
    }

    private func flush() {
        guard failure == nil else { buffer.removeAll(); return }
        do { try buffer.withUnsafeBytes { try sink($0) } } catch { failure = error }
        flushed += buffer.count
        buffer.removeAll()
    }

    /// Hands on what is left; throws what the sink threw, if it ever did.
    public func finish() throws {
        flush()
        if let failure { throw failure }
    }

    public func put<T: FixedWidthInteger>(_ value: T) {
        buffer.reserve(MemoryLayout<T>.size)
        buffer.putLittleEndian(value)
        flushIfFull()
    }

    public func put(_ flag: Bool) { put(UInt8(flag ? 1 : 0)) }

    /// Raw bytes, no count.
    public func putRaw(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        while !rest.isEmpty {
            let n = min(rest.count, Self.flushBytes)
            buffer.reserve(n)
            buffer.putBytes(UnsafeRawBufferPointer(rebasing: rest[..<n]))
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            flushIfFull()
        }
    }

    /// A count (u64) and the integers as they lie in memory (little-endian).
    public func putArray<T: FixedWidthInteger>(_ values: [T]) {
        put(UInt64(values.count))
        values.withUnsafeBytes { putRaw($0) }
    }

    /// A count (u64) and the bytes.
    public func putBytes(_ bytes: [UInt8]) { putArray(bytes) }

    /// A UTF-8 text: its length (u32) and its bytes.
    public func putText(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            put(UInt32(bytes.count))
            putRaw(UnsafeRawBufferPointer(bytes))
        }
    }

    /// An optional text: a byte 0 (none) or 1 and the text.
    public func putText(_ text: String?) {
        put(text != nil)
        if let text { putText(text) }
    }

    /// Zero bytes up to the next multiple of `alignment` from the section's start.
    public func align(to alignment: Int) {
        let pad = (alignment - count % alignment) % alignment
        buffer.putZeros(pad)
        flushIfFull()
    }

    /// Rows in chunks, laid out to be mapped into memory as they are: a count (u64), zero bytes
    /// up to a multiple of 4096 from the section's start, then ⌈count / `chunkRows`⌉ chunks of
    /// `chunkRows` rows of `width` bytes, the rows past the count zero.
    public func putChunkedRows(count: Int, width: Int, chunkRows: Int, _ row: (Int, UnsafeMutableRawBufferPointer) -> Void) {
        put(UInt64(count))
        align(to: 4096)
        let chunks = (count + chunkRows - 1) / chunkRows
        for chunk in 0..<chunks {
            buffer.appendUninitialized(maxBytes: chunkRows * width) { room in
                room.initializeMemory(as: UInt8.self, repeating: 0)
                for k in 0..<min(chunkRows, count - chunk * chunkRows) {
                    row(chunk * chunkRows + k, UnsafeMutableRawBufferPointer(rebasing: room[(k * width)..<((k + 1) * width)]))
                }
                return chunkRows * width
            }
            flushIfFull()
        }
    }

    /// Fixed-size rows: a count (u64), then each row of `width` bytes as `row` writes it into
    /// zeroed memory (so unwritten bytes are zero).
    public func putRows(count: Int, width: Int, _ row: (Int, UnsafeMutableRawBufferPointer) -> Void) {
        put(UInt64(count))
        var i = 0
        while i < count {
            let n = min(count - i, max(1, Self.flushBytes / width))
            buffer.appendUninitialized(maxBytes: n * width) { room in
                room.initializeMemory(as: UInt8.self, repeating: 0)
                for k in 0..<n { row(i + k, UnsafeMutableRawBufferPointer(rebasing: room[(k * width)..<((k + 1) * width)])) }
                return n * width
            }
            i += n
            flushIfFull()
        }
    }
}

/// Why a snapshot section did not decode: it names the section and what was wrong.
public struct SectionError: Error, Sendable, CustomStringConvertible {
    public var section: String
    public var reason: String
    public init(_ section: String, _ reason: String) { self.section = section; self.reason = reason }
    public var description: String { "section '\(section)': \(reason)" }
}

/// Reads a section body that ``SectionEncoder`` wrote, checking every length and bound: a
/// damaged or forged section is an error naming what is wrong, never a trap.
public struct SectionDecoder {
    public let name: String
    @usableFromInline var reader: ByteReader
    /// What keeps the bytes alive when they lie in a mapping a table may go on using in place
    /// (a snapshot's); nil when they must be copied.
    public var owner: AnyObject? = nil

    public init(_ bytes: UnsafeRawBufferPointer, section name: String) {
        self.name = name
        reader = ByteReader(bytes)
    }

    public var remaining: Int { reader.remaining }

    public func fail(_ reason: String) -> SectionError { SectionError(name, reason) }

    // The readers of fixed-width values are inlinable: called per row from other modules,
    // a generic call would look its type's metadata up each time.
    @inlinable
    public mutating func get<T: FixedWidthInteger>(_: T.Type = T.self, _ what: @autoclosure () -> String) throws(SectionError) -> T {
        guard let value = reader.readLittleEndian(T.self) else { throw fail("ends inside \(what()) at byte \(reader.offset)") }
        return value
    }

    @inlinable
    public mutating func getFlag(_ what: @autoclosure () -> String) throws(SectionError) -> Bool {
        switch try get(UInt8.self, what()) {
        case 0: return false
        case 1: return true
        case let other: throw fail("\(what()) is \(other), not 0 or 1")
        }
    }

    /// A count that must fit in what is left at `width` bytes an element.
    @inlinable
    public mutating func getCount(_ what: @autoclosure () -> String, width: Int) throws(SectionError) -> Int {
        let count = try get(UInt64.self, "the count of \(what())")
        guard count <= UInt64(reader.remaining / max(1, width)) else {
            throw fail("\(what()): \(count) elements of \(width) bytes do not fit in the \(reader.remaining) bytes left")
        }
        return Int(count)
    }

    @inlinable
    public mutating func getRaw(_ count: Int, _ what: @autoclosure () -> String) throws(SectionError) -> UnsafeRawBufferPointer {
        guard let bytes = reader.readBytes(count) else { throw fail("ends inside \(what()) at byte \(reader.offset)") }
        return bytes
    }

    @inlinable
    public mutating func getArray<T: FixedWidthInteger>(_: T.Type = T.self, _ what: @autoclosure () -> String) throws(SectionError) -> [T] {
        let count = try getCount(what(), width: MemoryLayout<T>.size)
        let bytes = try getRaw(count * MemoryLayout<T>.size, what())
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
            initialized = count
        }
    }

    public mutating func getText(_ what: @autoclosure () -> String) throws(SectionError) -> String {
        let length = try get(UInt32.self, "the length of \(what())")
        let bytes = try getRaw(Int(length), what())
        guard let text = String(validating: bytes, as: UTF8.self) else { throw fail("\(what()) is not valid UTF-8") }
        return text
    }

    public mutating func getOptionalText(_ what: @autoclosure () -> String) throws(SectionError) -> String? {
        try getFlag("whether there is \(what())") ? try getText(what()) : nil
    }

    /// Rows of `width` bytes: their count, then `row` for each, given the row's bytes.
    public mutating func getRows(_ what: @autoclosure () -> String, width: Int, _ row: (Int, RowReader) throws(SectionError) -> Void) throws(SectionError) {
        let count = try getCount(what(), width: width)
        let bytes = try getRaw(count * width, what())
        for i in 0..<count { try row(i, RowReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[(i * width)..<((i + 1) * width)]))) }
    }

    /// Rows that ``SectionEncoder/putChunkedRows(count:width:chunkRows:_:)`` wrote: their count
    /// and the bytes of their chunks (whole chunks, zero rows past the count).
    public mutating func getChunkedRows(_ what: @autoclosure () -> String, width: Int, chunkRows: Int) throws(SectionError) -> (count: Int, bytes: UnsafeRawBufferPointer) {
        let count = try get(UInt64.self, "the count of \(what())")
        let pad = (4096 - reader.offset % 4096) % 4096
        _ = try getRaw(pad, "the padding before \(what())")
        guard count <= UInt64(reader.remaining / max(1, width)) else {
            throw fail("\(what()): \(count) rows of \(width) bytes do not fit in the \(reader.remaining) bytes left")
        }
        let chunks = (Int(count) + chunkRows - 1) / chunkRows
        return (Int(count), try getRaw(chunks * chunkRows * width, what()))
    }

    /// Checks that the whole section was read.
    public func end() throws(SectionError) {
        guard reader.remaining == 0 else { throw fail("\(reader.remaining) bytes follow its last field") }
    }
}

/// One fixed-size row: fields at offsets the row's layout fixes, bounds already checked.
public struct RowReader {
    public let bytes: UnsafeRawBufferPointer
    @inlinable
    public init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }
    @inlinable @inline(__always)
    public func get<T: FixedWidthInteger>(_: T.Type = T.self, _ offset: Int) -> T {
        T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    /// Stores a little-endian integer at `offset` of a snapshot row.
    @inlinable @inline(__always)
    public func put<T: FixedWidthInteger>(_ value: T, _ offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}
