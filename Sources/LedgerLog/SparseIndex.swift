import LedgerBytes
import Glibc

/// A segment's sparse index, in chunks so that appending to the active segment's index while
/// readers hold an older snapshot copies one small chunk, not the whole index.
public struct SparseIndex: Sendable, Equatable {
    private static let chunkEntries = 1024
    private var chunks: [[IndexEntry]] = []
    public private(set) var count = 0

    public init() {}

    public init(_ entries: [IndexEntry]) {
        for entry in entries { append(entry) }
    }

    public var isEmpty: Bool { count == 0 }
    public var first: IndexEntry? { chunks.first?.first }
    public var last: IndexEntry? { chunks.last?.last }

    public subscript(i: Int) -> IndexEntry { chunks[i / Self.chunkEntries][i % Self.chunkEntries] }

    public mutating func append(_ entry: IndexEntry) {
        if count % Self.chunkEntries == 0 {
            var chunk: [IndexEntry] = []
            chunk.reserveCapacity(Self.chunkEntries)
            chunks.append(chunk)
        }
        chunks[chunks.count - 1].append(entry)
        count += 1
    }

    /// The last entry that satisfies `isAtOrBefore` (a predicate true for a prefix), if any.
    public func lastEntry(where isAtOrBefore: (IndexEntry) -> Bool) -> IndexEntry? {
        var low = 0
        var high = count
        while low < high {
            let mid = (low + high) / 2
            if isAtOrBefore(self[mid]) { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : self[low - 1]
    }

    public var entries: [IndexEntry] { chunks.flatMap { $0 } }
}

/// One entry of a segment's sparse index: where a batch starts.
public struct IndexEntry: Sendable, Equatable {
    public var position: UInt64
    /// The batch's first timestamp.
    public var timestamp: Int64
    /// Byte offset of the batch in its segment file.
    public var offset: UInt64
}

/// What is known of a sealed or active segment: where its data ends, its chain anchor, and
/// its sparse index. The index is a cache of the data, never the truth: whoever uses an entry
/// checks the batch header it points at.
public struct SegmentSummary: Sendable, Equatable {
    public var number: UInt64
    public var basePosition: UInt64
    /// Bytes of header and whole batches.
    public var dataLength: UInt64
    /// The position after the last event.
    public var endPosition: UInt64
    public var lastBatchCRC: UInt32
    public var lastBatchOffset: UInt64
    public var lastTimestamp: Int64
    public var index: SparseIndex

    mutating func noteBatch(_ header: BatchHeader, offset: UInt64) {
        if index.isEmpty || offset - index.last!.offset >= LogLimits.indexIntervalBytes {
            index.append(IndexEntry(position: header.basePosition, timestamp: header.firstTimestamp, offset: offset))
        }
        dataLength = offset + UInt64(header.length)
        endPosition = header.endPosition
        lastBatchCRC = header.batchCRC
        lastBatchOffset = offset
        lastTimestamp = header.lastTimestamp
    }
}

/// The `.idx` file of a sealed segment. Little-endian:
/// magic `LIDX` (4), CRC-32C of bytes 8..<end (4), version 1 (2), reserved (2), entry count (4),
/// segment number (8), base position (8), data length (8), end position (8), last batch CRC (4),
/// reserved (4), last batch offset (8), last timestamp (8), then per entry position (8),
/// timestamp (8), offset (8).
enum IndexFile {
    static let magic: UInt32 = 0x5844_494C  // "LIDX"
    static let headerBytes = 72

    static func encode(_ s: SegmentSummary) -> [UInt8] {
        let buffer = WriteBuffer(capacity: headerBytes + s.index.count * 24)
        buffer.reserve(headerBytes + s.index.count * 24)
        buffer.putLittleEndian(magic)
        buffer.putLittleEndian(UInt32(0))
        buffer.putLittleEndian(UInt16(1))
        buffer.putLittleEndian(UInt16(0))
        buffer.putLittleEndian(UInt32(s.index.count))
        buffer.putLittleEndian(s.number)
        buffer.putLittleEndian(s.basePosition)
        buffer.putLittleEndian(s.dataLength)
        buffer.putLittleEndian(s.endPosition)
        buffer.putLittleEndian(s.lastBatchCRC)
        buffer.putLittleEndian(UInt32(0))
        buffer.putLittleEndian(s.lastBatchOffset)
        buffer.putLittleEndian(s.lastTimestamp)
        for entry in s.index.entries {
            buffer.putLittleEndian(entry.position)
            buffer.putLittleEndian(entry.timestamp)
            buffer.putLittleEndian(entry.offset)
        }
        let crc = buffer.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8...])) }
        buffer.setLittleEndian(crc, at: 4)
        return buffer.bytes
    }

    /// Decodes an index file; nil when it is damaged, of another version, or inconsistent.
    static func decode(_ bytes: [UInt8]) -> SegmentSummary? {
        bytes.withUnsafeBytes { raw -> SegmentSummary? in
            guard raw.count >= headerBytes else { return nil }
            var r = ByteReader(raw)
            guard r.readLittleEndian(UInt32.self) == magic, let crc = r.readLittleEndian(UInt32.self),
                  crc == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[8...])),
                  r.readLittleEndian(UInt16.self) == 1, r.readLittleEndian(UInt16.self) == 0,
                  let count = r.readLittleEndian(UInt32.self), raw.count == headerBytes + Int(count) * 24,
                  let number = r.readLittleEndian(UInt64.self), let base = r.readLittleEndian(UInt64.self),
                  let length = r.readLittleEndian(UInt64.self), let end = r.readLittleEndian(UInt64.self),
                  let lastCRC = r.readLittleEndian(UInt32.self), r.readLittleEndian(UInt32.self) == 0,
                  let lastOffset = r.readLittleEndian(UInt64.self), let lastTime = r.readLittleEndian(Int64.self)
            else { return nil }
            var entries = SparseIndex()
            for _ in 0..<count {
                guard let p = r.readLittleEndian(UInt64.self), let t = r.readLittleEndian(Int64.self), let o = r.readLittleEndian(UInt64.self) else { return nil }
                if let last = entries.last, p <= last.position || o <= last.offset || t < last.timestamp { return nil }
                entries.append(IndexEntry(position: p, timestamp: t, offset: o))
            }
            return SegmentSummary(number: number, basePosition: base, dataLength: length, endPosition: end,
                                  lastBatchCRC: lastCRC, lastBatchOffset: lastOffset, lastTimestamp: lastTime, index: entries)
        }
    }
}

/// File names in a log directory: `<20-digit segment number>.seg`, `.idx` beside it.
enum LogFiles {
    static let lockName = "LOCK"

    static func segmentName(_ number: UInt64) -> String { padded(number) + ".seg" }
    static func indexName(_ number: UInt64) -> String { padded(number) + ".idx" }

    static func padded(_ number: UInt64) -> String {
        let digits = String(number)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// The segment number a file name stands for, when it is a segment file's name.
    static func segmentNumber(_ name: String) -> UInt64? {
        guard name.hasSuffix(".seg"), name.count == 24 else { return nil }
        return UInt64(name.dropLast(4))
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
