import LedgerBytes
/// The compression codec of a batch payload (bits 0–1 of the batch flags).
public enum PayloadCodec: UInt16, Sendable {
    case none = 0
    case lz4 = 1
}

/// The fixed 64-byte header in front of every batch. All integers little-endian.
///
/// | offset | width | field |
/// |---|---|---|
/// | 0 | 4 | magic `LBAT` |
/// | 4 | 4 | header CRC-32C over bytes 8..<64 |
/// | 8 | 4 | batch length, header included |
/// | 12 | 4 | batch CRC-32C over bytes 16..<length |
/// | 16 | 2 | flags: bits 0–1 codec, the rest zero |
/// | 18 | 2 | reserved, zero |
/// | 20 | 4 | event count |
/// | 24 | 8 | base position |
/// | 32 | 8 | first timestamp, µs since 1970 |
/// | 40 | 8 | last timestamp |
/// | 48 | 4 | payload length before compression |
/// | 52 | 4 | batch CRC of the previous batch (the chain) |
/// | 56 | 8 | committed position when written |
public struct BatchHeader: Sendable, Equatable {
    public static let byteCount = 64
    public static let magic: UInt32 = 0x5441_424C  // "LBAT"

    public var length: UInt32
    public var batchCRC: UInt32
    public var codec: PayloadCodec
    public var eventCount: UInt32
    public var basePosition: UInt64
    public var firstTimestamp: Int64
    public var lastTimestamp: Int64
    public var payloadLength: UInt32
    public var previousBatchCRC: UInt32
    /// The log's acknowledged end (the next position after the last acknowledged event) when
    /// this batch was written. Recovery uses it to tell a torn tail from damage: a batch that
    /// was written after position P was acknowledged proves everything before P was durable.
    public var committedPositionAtWrite: UInt64

    /// The position after the batch's last event.
    public var endPosition: UInt64 { basePosition + UInt64(eventCount) }

    /// Writes the header into the first 64 bytes of `into` and sets its header CRC. The
    /// batch CRC field is written as it stands in `batchCRC`.
    public func encode(into target: UnsafeMutableRawBufferPointer) {
        precondition(target.count >= Self.byteCount)
        func put<T: FixedWidthInteger>(_ value: T, _ at: Int) {
            target.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self)
        }
        put(Self.magic, 0)
        put(length, 8)
        put(batchCRC, 12)
        put(codec.rawValue, 16)
        put(UInt16(0), 18)
        put(eventCount, 20)
        put(basePosition, 24)
        put(firstTimestamp, 32)
        put(lastTimestamp, 40)
        put(payloadLength, 48)
        put(previousBatchCRC, 52)
        put(committedPositionAtWrite, 56)
        put(Self.headerCRC(UnsafeRawBufferPointer(target)), 4)
    }

    static func headerCRC(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[8..<byteCount]))
    }

    /// Why a header did not decode.
    public enum Problem: Error, Sendable, Equatable {
        case short, allZero, badMagic, badHeaderCRC, badField(String)
    }

    /// Decodes and checks a header: magic, header CRC, flags, lengths against the limits.
    /// The batch CRC is not checked here (the body may not have been read yet).
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<BatchHeader, Problem> {
        guard bytes.count >= byteCount else { return .failure(.short) }
        let reader = ByteReader(UnsafeRawBufferPointer(rebasing: bytes[0..<byteCount]))
        func get<T: FixedWidthInteger>(_: T.Type, _ at: Int) -> T { reader.getLittleEndian(T.self, at: at)! }
        if get(UInt32.self, 0) != magic {
            let zero = (0..<byteCount).allSatisfy { bytes[$0] == 0 }
            return .failure(zero ? .allZero : .badMagic)
        }
        guard get(UInt32.self, 4) == headerCRC(bytes) else { return .failure(.badHeaderCRC) }
        let flags = get(UInt16.self, 16)
        guard flags & ~0x3 == 0, let codec = PayloadCodec(rawValue: flags & 0x3) else {
            return .failure(.badField("flags \(flags) name no known codec"))
        }
        guard get(UInt16.self, 18) == 0 else { return .failure(.badField("reserved bytes 18..<20 are not zero")) }
        let header = BatchHeader(
            length: get(UInt32.self, 8), batchCRC: get(UInt32.self, 12), codec: codec,
            eventCount: get(UInt32.self, 20), basePosition: get(UInt64.self, 24),
            firstTimestamp: get(Int64.self, 32), lastTimestamp: get(Int64.self, 40),
            payloadLength: get(UInt32.self, 48), previousBatchCRC: get(UInt32.self, 52),
            committedPositionAtWrite: get(UInt64.self, 56))
        if header.eventCount == 0 || header.eventCount > LogLimits.batchEventsMax {
            return .failure(.badField("event count \(header.eventCount) is outside 1...\(LogLimits.batchEventsMax)"))
        }
        if header.payloadLength > LogLimits.batchPayloadBytesMax {
            return .failure(.badField("payload length \(header.payloadLength) is above \(LogLimits.batchPayloadBytesMax)"))
        }
        if header.length < UInt32(byteCount) || header.length > LogLimits.batchBytesMax {
            return .failure(.badField("batch length \(header.length) is outside \(byteCount)...\(LogLimits.batchBytesMax)"))
        }
        if header.codec == .none && header.length != UInt32(byteCount) + header.payloadLength {
            return .failure(.badField("an uncompressed batch of length \(header.length) cannot hold a payload of \(header.payloadLength)"))
        }
        if header.lastTimestamp < header.firstTimestamp {
            return .failure(.badField("last timestamp precedes the first"))
        }
        return .success(header)
    }
}

/// The fixed 64-byte header at the start of every segment file. All integers little-endian.
///
/// | offset | width | field |
/// |---|---|---|
/// | 0 | 4 | magic `LSEG` |
/// | 4 | 4 | header CRC-32C over bytes 8..<64 |
/// | 8 | 2 | format version (1) |
/// | 10 | 2 | header length (64) |
/// | 12 | 4 | flags, zero |
/// | 16 | 8 | segment number (0, 1, 2, … with no gap) |
/// | 24 | 8 | base position: the position of the segment's first event |
/// | 32 | 8 | creation time, µs since 1970 |
/// | 40 | 4 | batch CRC of the last batch of the previous segment (0 for the first) |
/// | 44 | 20 | reserved, zero |
public struct SegmentHeader: Sendable, Equatable {
    public static let byteCount = 64
    public static let magic: UInt32 = 0x4745_534C  // "LSEG"
    public static let formatVersion: UInt16 = 1

    public var segmentNumber: UInt64
    public var basePosition: UInt64
    public var createdAt: Int64
    public var previousBatchCRC: UInt32

    public func encoded() -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes.withUnsafeMutableBytes { target in
            func put<T: FixedWidthInteger>(_ value: T, _ at: Int) {
                target.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self)
            }
            put(Self.magic, 0)
            put(Self.formatVersion, 8)
            put(UInt16(Self.byteCount), 10)
            put(UInt32(0), 12)
            put(segmentNumber, 16)
            put(basePosition, 24)
            put(createdAt, 32)
            put(previousBatchCRC, 40)
            put(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(target)[8..<Self.byteCount])), 4)
        }
        return bytes
    }

    /// Decodes and checks a segment header; the failure says what is wrong.
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<SegmentHeader, SegmentHeaderProblem> {
        guard bytes.count >= byteCount else { return .failure(SegmentHeaderProblem("the file is shorter than its 64-byte header")) }
        let reader = ByteReader(bytes)
        func get<T: FixedWidthInteger>(_: T.Type, _ at: Int) -> T { reader.getLittleEndian(T.self, at: at)! }
        guard get(UInt32.self, 0) == magic else { return .failure(SegmentHeaderProblem("the segment magic is not LSEG")) }
        guard get(UInt32.self, 4) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[8..<byteCount])) else {
            return .failure(SegmentHeaderProblem("the segment header checksum does not match"))
        }
        let version = get(UInt16.self, 8)
        guard version == formatVersion else {
            return .failure(SegmentHeaderProblem("format version \(version) is not one this reader knows (it reads version \(formatVersion))"))
        }
        guard get(UInt16.self, 10) == UInt16(byteCount), get(UInt32.self, 12) == 0 else {
            return .failure(SegmentHeaderProblem("the segment header length or flags are not those of version 1"))
        }
        return .success(SegmentHeader(
            segmentNumber: get(UInt64.self, 16), basePosition: get(UInt64.self, 24),
            createdAt: get(Int64.self, 32), previousBatchCRC: get(UInt32.self, 40)))
    }
}

/// Why a segment header did not decode.
public struct SegmentHeaderProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
