import Glibc

/// What a full verification checked.
public struct VerifyReport: Sendable, Equatable {
    public var segments: Int
    public var batches: UInt64
    public var events: UInt64
    /// Bytes of segment headers and batches (not the zeros reserved ahead).
    public var bytes: UInt64
    /// A torn tail: a write a crash interrupted, never acknowledged, which the next writer cuts
    /// (and keeps aside). Not damage: every acknowledged batch is whole before it.
    public var tornTail: RecoveryReport.TailCut? = nil
    /// A writer held the log open and these bytes after the last whole batch were its batch in
    /// progress: checked up to the last whole batch, the rest left to it.
    public var writerTailBytes: UInt64? = nil
}

extension LogReader {
    /// Checks every byte of a log directory without changing any: each segment header, every
    /// batch's header and batch checksum, the hash chain within and across segments, gap-free
    /// positions, non-decreasing timestamps, every record's encoding, and that only zeros
    /// follow the last batch. Throws at the first bad spot, naming the file and byte offset.
    /// The last segment's tail is judged by the writer's recovery rules: a torn write is
    /// reported in ``VerifyReport/tornTail`` (the next writer cuts it), and while a writer holds
    /// the log open its batch in progress is its own (``VerifyReport/writerTailBytes``).
    public static func verify(directory: String, syscalls: SystemCalls = .live) throws -> VerifyReport {
        guard syscalls.fileExists(directory) else { throw LogError(.invalidArgument, "there is no log directory here", file: directory) }
        let loader = LogLoader(directory: directory, syscalls: syscalls, repair: false)
        let (_, numbers) = try loader.identityAndSegments()
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
            case .failure(let why):
                // The last segment's header: a writer at work may be creating it, or a crash
                // interrupted its creation (recovery sets it aside), unless a batch in it
                // proves acknowledged data.
                guard number == numbers.last else { throw LogError.corrupt(why.description, file: path, offset: 0) }
                if loader.writerAtWork() {
                    report.writerTailBytes = size
                    report.segments -= 1
                    return report
                }
                let cursor = BatchCursor(syscalls: syscalls, fd: fd, path: path)
                guard number > 0 else { throw LogError.corrupt(why.description, file: path, offset: 0) }
                if case .damaged(let at, let reason) = try SegmentScan.analyzeTail(cursor: cursor, from: 0, fileEnd: size, expectedPosition: previous?.endPosition ?? 0) {
                    throw LogError.corrupt("\(why); \(reason)", file: path, offset: at)
                }
                report.tornTail = .init(segmentFile: path, offset: 0, bytes: size, preservedAt: path + ".torn", reason: why.description)
                report.segments -= 1
                return report
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
            if number != numbers.last {
                // A sealed segment ends exactly after its last batch.
                if let bad { throw LogError.corrupt(bad.reason, file: path, offset: bad.offset) }
                if summary.dataLength != size { throw LogError.corrupt("a sealed segment has \(size - summary.dataLength) bytes after its last batch", file: path, offset: summary.dataLength) }
            } else {
                // The last segment's tail is judged as the writer's recovery would, read-only;
                // a writer at work owns what follows its last whole batch.
                let from = bad?.offset ?? summary.dataLength
                switch try SegmentScan.judgeTail(cursor: cursor, path: path, from: from, bad: bad, fileEnd: size, endPosition: summary.endPosition,
                                                 writerAtWork: { loader.writerAtWork() }) {
                case .clean: break
                case .writers(let bytes): report.writerTailBytes = bytes
                case .torn(let lastNonZero, let reason):
                    report.tornTail = .init(segmentFile: path, offset: from, bytes: lastNonZero + 1 - from, preservedAt: path + ".cut-\(from)", reason: reason)
                }
            }
            report.batches += batches
            report.bytes += summary.dataLength
            report.events = summary.endPosition
            previous = summary
        }
        return report
    }
}
