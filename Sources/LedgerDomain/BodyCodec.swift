import LedgerBytes

/// The binary body of an event in the log, versioned like protocol buffers so that a newer
/// reader reads older events and an older reader skips what it does not know.
///
/// A body is one flags byte — bit 0: derived from the event before it in the same command;
/// bit 1: the client's number follows as a varint (version 2); bits 4–7: body version (1 or
/// 2) — followed by fields (data-format.md §11 has the whole layout and every type's tags). A field is a varint key
/// `tag << 3 | wire type` and a value: wire type 0 an unsigned varint, 1 a zigzag-encoded signed
/// varint, 2 a varint length and that many bytes (a UTF-8 string or a nested message). A field
/// whose value is zero or empty is left out. Tags per type are in ``EventCodec``.
public struct FieldWriter {
    let buffer: WriteBuffer

    public init(_ buffer: WriteBuffer) { self.buffer = buffer }

    func key(_ tag: UInt64, _ wire: UInt64) {
        buffer.reserve(10)
        buffer.putVarint(tag << 3 | wire)
    }

    public func uint(_ tag: UInt64, _ value: UInt64) {
        guard value != 0 else { return }
        key(tag, 0)
        buffer.reserve(10)
        buffer.putVarint(value)
    }

    public func int(_ tag: UInt64, _ value: Int64) {
        guard value != 0 else { return }
        key(tag, 1)
        buffer.reserve(10)
        buffer.putVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)))
    }

    public func int(_ tag: UInt64, _ value: Int64?) {
        guard let value else { return }
        // Present-but-zero must survive: stored as zigzag + 1 under wire type 0.
        key(tag, 0)
        buffer.reserve(10)
        buffer.putVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)) &+ 1)
    }

    public func bool(_ tag: UInt64, _ value: Bool) { uint(tag, value ? 1 : 0) }

    public func string(_ tag: UInt64, _ value: String?) {
        guard let value, !value.isEmpty else { return }
        var copy = value
        copy.withUTF8 { bytes in
            key(tag, 2)
            buffer.reserve(10 + bytes.count)
            buffer.putVarint(UInt64(bytes.count))
            buffer.putBytes(UnsafeRawBufferPointer(bytes))
        }
    }

    /// A nested message: `body` writes its fields; the length is patched in afterwards.
    public func message(_ tag: UInt64, _ body: (FieldWriter) -> Void) {
        key(tag, 2)
        buffer.putZeros(5)
        let start = buffer.count
        body(self)
        let length = buffer.count - start
        // A fixed 5-byte varint (padded with continuation bits) keeps the patch in place.
        buffer.withUnsafeMutableBytes(from: start - 5) { bytes in
            Varint.writePadded(UInt64(length), into: UnsafeMutableRawBufferPointer(rebasing: bytes[0..<5]))
        }
    }
}

/// Reads the fields of a body or nested message. Every read is bounds-checked: bodies come
/// from disk. Unknown tags are skipped by their wire type and counted.
public struct FieldReader {
    var reader: ByteReader
    public private(set) var skippedFields = 0

    public init(_ bytes: UnsafeRawBufferPointer) { reader = ByteReader(bytes) }

    public var isAtEnd: Bool { reader.remaining == 0 }

    /// The next field's tag and wire type, or nil at the end.
    public mutating func next() throws(BodyError) -> (tag: UInt64, wire: UInt64)? {
        if reader.remaining == 0 { return nil }
        guard let key = reader.readVarint() else { throw .malformed("a field key is cut short") }
        return (key >> 3, key & 7)
    }

    public mutating func uint(_ wire: UInt64) throws(BodyError) -> UInt64 {
        guard wire == 0, let v = reader.readVarint() else { throw .malformed("an unsigned field is malformed") }
        return v
    }

    public mutating func int(_ wire: UInt64) throws(BodyError) -> Int64 {
        guard wire == 1, let v = reader.readVarint() else { throw .malformed("a signed field is malformed") }
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    public mutating func optionalInt(_ wire: UInt64) throws(BodyError) -> Int64 {
        guard wire == 0, let stored = reader.readVarint(), stored > 0 else { throw .malformed("an optional signed field is malformed") }
        let v = stored - 1
        return Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1)
    }

    public mutating func bytes(_ wire: UInt64) throws(BodyError) -> UnsafeRawBufferPointer {
        guard wire == 2, let length = reader.readVarint(), length <= UInt64(reader.remaining),
              let bytes = reader.readBytes(Int(length)) else { throw .malformed("a length-delimited field runs past the body") }
        return bytes
    }

    public mutating func string(_ wire: UInt64) throws(BodyError) -> String {
        String(decoding: try bytes(wire), as: UTF8.self)
    }

    public mutating func skip(_ wire: UInt64) throws(BodyError) {
        skippedFields += 1
        try pass(wire)
    }

    /// Steps over a known field the caller does not need (not counted as unknown).
    public mutating func pass(_ wire: UInt64) throws(BodyError) {
        switch wire {
        case 0, 1: guard reader.readVarint() != nil else { throw .malformed("a skipped field is malformed") }
        case 2: _ = try bytes(wire)
        default: throw .malformed("wire type \(wire) is unknown")
        }
    }
}

/// Why a body did not decode.
public enum BodyError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformed(String)
    case unknownVersion(UInt8)
    case unknownType(UInt32)
    case badValue(String)

    public var description: String {
        switch self {
        case .malformed(let why): "malformed body: \(why)"
        case .unknownVersion(let v): "body version \(v) is newer than this reader knows"
        case .unknownType(let t): "type code \(t) is not one this reader knows"
        case .badValue(let why): "bad value: \(why)"
        }
    }
}
