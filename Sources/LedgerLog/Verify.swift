import Glibc

/// What a full verification checked.
public struct VerifyReport: Sendable, Equatable {
    public var segments: Int
    public var batches: UInt64
    public var events: UInt64
    /// Bytes of segment headers and batches (not the zeros reserved ahead).
    public var bytes: UInt64
}

extension LogReader {
    /// Checks every byte of a log directory without changing any: each segment header, every
    /// batch's header and batch checksum, the hash chain within and across segments, gap-free
    /// positions, non-decreasing timestamps, every record's encoding, and that only zeros
    /// follow the last batch. Throws at the first bad spot, naming the file and byte offset.
    public static func verify(directory: String, syscalls: SystemCalls = .live) throws -> VerifyReport {
        guard syscalls.fileExists(directory) else { throw LogError(.invalidArgument, "there is no log directory here", file: directory) }
        let loader = LogLoader(directory: directory, syscalls: syscalls, repair: false)
        let numbers = try loader.segmentNumbers()
        var report = VerifyReport(segments: numbers.count, batches: 0, events: 0, bytes: 0)
        var previous: SegmentSummary? = nil
        for number in numbers {
            let path = LogFiles.join(directory, LogFiles.segmentName(number))
            let fd = try syscalls.open(path, flags: O_RDONLY)
            defer { try? syscalls.close(fd, path: path) }
            let size = try syscalls.fileSize(fd, path: path)
            var headerBytes = [UInt8](repeating: 0, count: SegmentHeader.byteCount)
            let got = try headerBytes.withUnsafeMutableBytes { try syscalls.read(fd, into: $0, atAbsoluteOffset: 0, path: path) }
            let header: SegmentHeader
            switch headerBytes.withUnsafeBytes({ SegmentHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }) {
            case .success(let h): header = h
            case .failure(let why): throw LogError.corrupt(why.description, file: path, offset: 0)
            }
            guard header.segmentNumber == number else { throw LogError.corrupt("the header names segment \(header.segmentNumber)", file: path, offset: 16) }
            guard header.basePosition == (previous?.endPosition ?? 0) else {
                throw LogError.corrupt("the segment starts at position \(header.basePosition), the previous one ends at \(previous?.endPosition ?? 0)", file: path, offset: 24)
            }
            guard header.previousBatchCRC == (previous?.lastBatchCRC ?? 0) else {
                throw LogError.corrupt("the hash chain breaks between segments", file: path, offset: 40)
            }
            let cursor = BatchCursor(syscalls: syscalls, fd: fd, path: path)
            var batches: UInt64 = 0
            let (summary, bad) = try SegmentScan.scan(cursor: cursor, header: header, previousTimestamp: previous?.lastTimestamp ?? Int64.min,
                                                      limit: size, decodeRecords: true) { _, _, _ in batches += 1 }
            if let bad { throw LogError.corrupt(bad.reason, file: path, offset: bad.offset) }
            var stray: UInt64? = nil
            try cursor.forEachChunk(from: summary.dataLength, to: size) { at, chunk in
                if isAllZero(chunk) { return true }
                if let i = chunk.firstIndex(where: { $0 != 0 }) { stray = at + UInt64(i); return false }
                return true
            }
            if let stray { throw LogError.corrupt("non-zero bytes after the last batch", file: path, offset: stray) }
            report.batches += batches
            report.bytes += summary.dataLength
            report.events = summary.endPosition
            previous = summary
        }
        return report
    }
}
