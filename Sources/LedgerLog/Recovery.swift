import Glibc

/// What opening a log found and did. A cut is never silent: it is in this report, and the cut
/// bytes are kept in a file beside the segment for anyone who wants to look at them.
public struct RecoveryReport: Sendable, Equatable {
    public struct TailCut: Sendable, Equatable {
        /// The segment file that was cut.
        public var segmentFile: String
        /// Where the cut begins: the end of the last whole batch.
        public var offset: UInt64
        /// How many bytes (up to the last non-zero byte) were removed.
        public var bytes: UInt64
        /// The file the removed bytes were saved to.
        public var preservedAt: String
        /// Why the bytes at `offset` were not a whole batch.
        public var reason: String
    }

    public var segments: Int
    /// The position the next event will get: how many events the log holds.
    public var endPosition: UInt64
    public var cut: TailCut?
    /// Index files that were missing, damaged or stale and were rebuilt from the data.
    public var rebuiltIndexes: [String]
    /// For a read-only reader: a torn tail it found and left alone (no writer was at work),
    /// which the next writer will cut. `preservedAt` names where the writer will keep it.
    public var tornTail: TailCut? = nil
    /// For a read-only reader: a writer held the log open, and bytes after the last whole
    /// batch of the last segment were left to it (a batch it is writing, not damage).
    public var writerTailBytes: UInt64? = nil
    /// The log's identity (its `LOG` file); nil for a log written before identities, until a
    /// writer opens it and writes one.
    public var identity: LogIdentity? = nil

    public init(segments: Int, endPosition: UInt64, cut: TailCut?, rebuiltIndexes: [String]) {
        self.segments = segments
        self.endPosition = endPosition
        self.cut = cut
        self.rebuiltIndexes = rebuiltIndexes
    }
}

/// What the bytes after the last whole batch of the last segment are.
enum TailJudgement {
    /// Nothing but zeros.
    case clean
    /// A writer is at work: they are its batch in progress (for a reader), not to be judged.
    case writers(bytes: UInt64)
    /// A write a crash tore, never acknowledged: the writer cuts `[from, lastNonZero]`.
    case torn(lastNonZero: UInt64, reason: String)
}

/// The first spot in a segment that is not a whole, chained batch.
struct BadSpot {
    var offset: UInt64
    var reason: String
}

enum SegmentScan {
    /// Reads every batch of a segment from its header on, checking checksums, the chain, the
    /// positions and timestamps and, when `decodeRecords`, every record. Stops at the first
    /// spot that is not a valid next batch and returns it (nil when the data ends cleanly in
    /// zeros or at `limit`).
    static func scan(
        cursor: BatchCursor, header: SegmentHeader, previousTimestamp: Int64, limit: UInt64,
        decodeRecords: Bool, from start: SegmentSummary? = nil, onBatch: (BatchHeader, UInt64, UnsafeRawBufferPointer) throws -> Void = { _, _, _ in }
    ) throws -> (SegmentSummary, BadSpot?) {
        // From the segment's first batch, or on from a summary of its first batches.
        var summary = start ?? SegmentSummary(
            number: header.segmentNumber, basePosition: header.basePosition, dataLength: UInt64(SegmentHeader.byteCount),
            endPosition: header.basePosition, lastBatchCRC: header.previousBatchCRC, lastBatchOffset: 0,
            lastTimestamp: previousTimestamp, index: SparseIndex())
        var offset = summary.dataLength
        while true {
            switch try cursor.read(at: offset, limit: limit) {
            case .end:
                return (summary, nil)
            case .bad(let at, let reason):
                return (summary, BadSpot(offset: at, reason: reason))
            case .batch(let batch, let at, let payload):
                if batch.basePosition != summary.endPosition {
                    return (summary, BadSpot(offset: at, reason: "the batch starts at position \(batch.basePosition), expected \(summary.endPosition)"))
                }
                if batch.previousBatchCRC != summary.lastBatchCRC {
                    return (summary, BadSpot(offset: at, reason: "the hash chain breaks: the batch names previous checksum \(hex(batch.previousBatchCRC)), the previous batch's is \(hex(summary.lastBatchCRC))"))
                }
                if batch.firstTimestamp < summary.lastTimestamp {
                    return (summary, BadSpot(offset: at, reason: "the batch's first timestamp precedes the previous batch's last"))
                }
                if decodeRecords, let problem = RecordDecoder.decode(payload, header: batch, { _ in true }) {
                    return (summary, BadSpot(offset: at, reason: "the payload does not decode: \(problem)"))
                }
                try onBatch(batch, at, payload)
                summary.noteBatch(batch, offset: at)
                offset = at + UInt64(batch.length)
            }
        }
    }

    enum TailVerdict {
        /// Only zeros follow: nothing to cut.
        case clean
        /// Bytes follow that no acknowledged write can have left: cut up to `lastNonZero`.
        case torn(lastNonZero: UInt64)
        /// A batch further on was written after the damaged spot was acknowledged.
        case damaged(offset: UInt64, reason: String)
    }

    /// Decides what the bytes from `from` to `fileEnd` are, where a batch at position
    /// `expectedPosition` would have started. A crash can only leave unacknowledged bytes
    /// behind the last acknowledged batch; any valid batch header further on whose
    /// `committedPositionAtWrite` is above `expectedPosition` proves that a batch at `from`
    /// had been acknowledged, so the spot is damage, not a torn tail.
    static func analyzeTail(cursor: BatchCursor, from: UInt64, fileEnd: UInt64, expectedPosition: UInt64) throws -> TailVerdict {
        var lastNonZero: UInt64? = nil
        var candidates: [UInt64] = []
        try cursor.forEachChunk(from: from, to: fileEnd) { at, chunk in
            if isAllZero(chunk) { return true }
            for i in 0..<chunk.count where chunk[i] != 0 {
                lastNonZero = at + UInt64(i)
                if chunk[i] == 0x4C { candidates.append(at + UInt64(i)) }  // 'L', the magic's first byte
            }
            return true
        }
        guard let lastNonZero else { return .clean }
        var header = [UInt8](repeating: 0, count: BatchHeader.byteCount)
        for candidate in candidates where candidate > from && candidate + UInt64(BatchHeader.byteCount) <= fileEnd {
            let got = try header.withUnsafeMutableBytes {
                try cursor.syscalls.read(cursor.fd, into: $0, atAbsoluteOffset: candidate, path: cursor.path)
            }
            guard got == BatchHeader.byteCount else { continue }
            if case .success(let later) = header.withUnsafeBytes({ BatchHeader.decode($0) }),
               later.committedPositionAtWrite > expectedPosition {
                return .damaged(offset: candidate, reason: "a batch at byte offset \(candidate) was written after position \(expectedPosition) had been acknowledged")
            }
        }
        cursor.invalidate()
        return .torn(lastNonZero: lastNonZero)
    }
}

extension SegmentScan {
    /// Judges the bytes of the last segment from `from` (the first spot that is not a valid
    /// next batch, `bad`, or the end of the data) to `fileEnd`, by the writer's rules
    /// (data-format.md §7), and throws ``LogError`` `corrupt` when they are damage.
    ///
    /// A read-only reader passes `writerAtWork`: while a writer holds the log open, what the
    /// reader cannot read yet is that writer's batch in progress, never damage. It is asked
    /// before judging and once more before calling anything damage, since a writer may open
    /// (and start writing) while the reader looks: a reader never reports a healthy log as
    /// damaged because it raced a writer.
    static func judgeTail(cursor: BatchCursor, path: String, from: UInt64, bad: BadSpot?, fileEnd: UInt64, endPosition: UInt64,
                          writerAtWork: (() -> Bool)?) throws -> TailJudgement {
        let writersBytes = { fileEnd > from ? fileEnd - from : 0 }
        if let writerAtWork, bad != nil || from < fileEnd, writerAtWork() {
            // Only zeros after the data: nothing to say.
            if bad == nil, case .clean = try analyzeTail(cursor: cursor, from: from, fileEnd: fileEnd, expectedPosition: endPosition) { return .clean }
            return .writers(bytes: writersBytes())
        }
        func damage(_ message: String, at offset: UInt64) throws -> TailJudgement {
            if let writerAtWork {
                if writerAtWork() { return .writers(bytes: writersBytes()) }
                // A writer that finished a batch and closed while this reader looked leaves
                // the batch whole now: what a reader saw in flight was no damage.
                cursor.invalidate()
                let size = (try? cursor.syscalls.fileSize(cursor.fd, path: path)) ?? fileEnd
                if case .batch(let header, _, _) = try cursor.read(at: from, limit: size), header.basePosition == endPosition {
                    return .writers(bytes: writersBytes())
                }
            }
            throw LogError.corrupt(message, file: path, offset: offset)
        }
        switch try analyzeTail(cursor: cursor, from: from, fileEnd: fileEnd, expectedPosition: endPosition) {
        case .clean:
            if let bad { return try damage(bad.reason, at: bad.offset) }  // unreachable: a bad spot has a non-zero byte
            return .clean
        case .damaged(let at, let reason):
            return try damage("\(bad?.reason ?? "the data stops") at byte offset \(from), and \(reason)", at: at)
        case .torn(let lastNonZero):
            let reason = bad?.reason ?? "non-zero bytes after the last batch"
            if bad != nil, try !showsUnwrittenSector(cursor: cursor, at: from, fileEnd: fileEnd) {
                return try damage("\(reason), and every sector of it was written: this is damage, not a torn write", at: from)
            }
            return .torn(lastNonZero: lastNonZero, reason: reason)
        }
    }
}

/// Whether every byte is zero, eight at a time.
func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let words = bytes.count / 8
    var accumulated: UInt64 = 0
    for i in 0..<words { accumulated |= bytes.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
    for i in (words * 8)..<bytes.count { accumulated |= UInt64(bytes[i]) }
    return accumulated == 0
}

extension SegmentScan {
    /// Disk sectors are written whole or not at all, and the reserved space of a segment reads
    /// as zeros, so a write a crash tore leaves at least one sector of the batch all zero (or
    /// the batch runs past the end of the file). A batch whose every sector holds data but whose
    /// checksum fails was damaged after it was written. Looks at the batch at `offset` (or its
    /// header, when the header itself is not valid).
    static let sectorBytes: UInt64 = 512

    static func showsUnwrittenSector(cursor: BatchCursor, at offset: UInt64, fileEnd: UInt64) throws -> Bool {
        var header = [UInt8](repeating: 0, count: BatchHeader.byteCount)
        let got = try header.withUnsafeMutableBytes { try cursor.syscalls.read(cursor.fd, into: $0, atAbsoluteOffset: offset, path: cursor.path) }
        var end = offset + UInt64(BatchHeader.byteCount)
        if got == BatchHeader.byteCount, case .success(let batch) = header.withUnsafeBytes({ BatchHeader.decode($0) }) {
            end = offset + UInt64(batch.length)
        }
        if end > fileEnd { return true }
        var bytes = [UInt8](repeating: 0, count: Int(end - offset))
        _ = try bytes.withUnsafeMutableBytes { try cursor.syscalls.read(cursor.fd, into: $0, atAbsoluteOffset: offset, path: cursor.path) }
        cursor.invalidate()
        var sector = offset / sectorBytes * sectorBytes
        while sector < end {
            let from = Int(max(sector, offset) - offset), to = Int(min(sector + sectorBytes, end) - offset)
            if bytes[from..<to].allSatisfy({ $0 == 0 }) { return true }
            sector += sectorBytes
        }
        return false
    }
}

func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}

/// Opens every segment of a directory, checks it and works out where the log ends. Shared by
/// the writer (which may cut a torn tail) and read-only readers (which never change a byte).
struct LogLoader {
    let directory: String
    let syscalls: SystemCalls
    /// When true, a torn tail is cut (and kept aside); when false, the log simply ends there.
    let repair: Bool
    /// For a reader: whether a writer held the log open when the reader began to look.
    let writerAtStart: Bool

    init(directory: String, syscalls: SystemCalls, repair: Bool) {
        self.directory = directory
        self.syscalls = syscalls
        self.repair = repair
        self.writerAtStart = !repair && syscalls.isLockedExclusively(LogFiles.join(directory, LogFiles.lockName))
    }

    struct Loaded {
        var segments: [SegmentSummary]
        var report: RecoveryReport
    }

    func segmentNumbers() throws -> [UInt64] {
        let numbers = try syscalls.listDirectory(directory).compactMap(LogFiles.segmentNumber).sorted()
        for (i, n) in numbers.enumerated() where n != UInt64(i) {
            throw LogError(.corrupt, "segment files are not numbered 0, 1, 2, … without a gap: segment \(i) is missing",
                           file: LogFiles.join(directory, LogFiles.segmentName(UInt64(i))))
        }
        return numbers
    }

    /// The log's identity file and its segment numbers, checked against each other: with a
    /// `LOG`, a vanished segment is damage, never a shorter or an empty log (data-format.md §1.1).
    func identityAndSegments() throws -> (LogIdentity?, [UInt64]) {
        let identity = try LogIdentity.read(LogFiles.join(directory, LogIdentity.fileName), syscalls: syscalls)
        let numbers = try segmentNumbers()
        if let identity {
            guard let last = numbers.last else {
                throw LogError.corrupt("the log's segments are missing: its LOG file (identity \(identity.hex)) says segments 0 to \(identity.newestSegment) were created, and no segment file is here", file: LogFiles.join(directory, LogFiles.segmentName(0)), offset: 0)
            }
            guard last >= identity.newestSegment else {
                throw LogError.corrupt("segment \(last + 1) is missing: the log's LOG file says segments 0 to \(identity.newestSegment) were created, and the last here is \(last)", file: LogFiles.join(directory, LogFiles.segmentName(last + 1)), offset: 0)
            }
        }
        return (identity, numbers)
    }

    func load() throws -> Loaded {
        let (identity, numbers) = try identityAndSegments()
        var segments: [SegmentSummary] = []
        var report = RecoveryReport(segments: 0, endPosition: 0, cut: nil, rebuiltIndexes: [])
        report.identity = identity
        for number in numbers {
            let isLast = number == numbers.last
            let previous = segments.last
            if let summary = try loadSegment(number: number, previous: previous, isLast: isLast, report: &report) {
                segments.append(summary)
            }
        }
        report.segments = segments.count
        report.endPosition = segments.last?.endPosition ?? 0
        if let identity, (segments.last?.number ?? 0) < identity.newestSegment {
            // Only a segment whose header a crash interrupted is set aside, and LOG names a
            // segment only once its header was durable.
            throw LogError.corrupt("segment \(identity.newestSegment) has no valid header, yet the log's LOG file says it was created", file: LogFiles.join(directory, LogFiles.segmentName(identity.newestSegment)), offset: 0)
        }
        return Loaded(segments: segments, report: report)
    }

    /// Loads one segment; returns nil only when it is the last one and its header was never
    /// made durable (a crash while it was being created), after setting it aside.
    private func loadSegment(number: UInt64, previous: SegmentSummary?, isLast: Bool, report: inout RecoveryReport) throws -> SegmentSummary? {
        let path = LogFiles.join(directory, LogFiles.segmentName(number))
        let fd = try syscalls.open(path, flags: repair && isLast ? O_RDWR : O_RDONLY)
        defer { try? syscalls.close(fd, path: path) }
        let fileSize = try syscalls.fileSize(fd, path: path)
        let cursor = BatchCursor(syscalls: syscalls, fd: fd, path: path)
        var headerBytes = [UInt8](repeating: 0, count: SegmentHeader.byteCount)
        let got = try headerBytes.withUnsafeMutableBytes { try syscalls.read(fd, into: $0, atAbsoluteOffset: 0, path: path) }
        let expectedBase = previous?.endPosition ?? 0
        let header: SegmentHeader
        switch headerBytes.withUnsafeBytes({ SegmentHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }) {
        case .success(let decoded):
            header = decoded
        case .failure(let why):
            try passOverHeaderless(number: number, path: path, why: why.description, cursor: cursor, fileSize: fileSize,
                                   expectedBase: expectedBase, isLast: isLast, report: &report)
            return nil
        }
        guard header.segmentNumber == number else {
            throw LogError.corrupt("the header says segment \(header.segmentNumber), the file name says \(number)", file: path, offset: 16)
        }
        guard header.basePosition == expectedBase else {
            throw LogError.corrupt("the segment starts at position \(header.basePosition), the previous segment ends at \(expectedBase)", file: path, offset: 24)
        }
        guard header.previousBatchCRC == (previous?.lastBatchCRC ?? 0) else {
            throw LogError.corrupt("the hash chain breaks between segments: the header names previous checksum \(hex(header.previousBatchCRC)), the previous segment ends with \(hex(previous?.lastBatchCRC ?? 0))", file: path, offset: 40)
        }
        let previousTimestamp = previous?.lastTimestamp ?? Int64.min
        // A reader reads the last segment from where its index (a prefix, written by the last
        // clean close) ends, as it trusts a sealed segment's index; the writer, which appends
        // after that data, reads it all from its first batch.
        let indexed = repair && isLast ? nil
            : try loadIndex(number: number, header: header, cursor: cursor, fileSize: fileSize, previousTimestamp: previousTimestamp, prefix: isLast)
        if !isLast, let indexed { return indexed }
        let (summary, bad) = try SegmentScan.scan(cursor: cursor, header: header, previousTimestamp: previousTimestamp, limit: fileSize,
                                                  decodeRecords: isLast, from: indexed)
        if !isLast {
            if let bad { throw LogError.corrupt(bad.reason, file: path, offset: bad.offset) }
            guard summary.dataLength == fileSize else {
                throw LogError.corrupt("a sealed segment has \(fileSize - summary.dataLength) bytes after its last batch", file: path, offset: summary.dataLength)
            }
            // Only the writer writes: a reader (and `verify`) leaves a missing or stale index for
            // the next writer to rebuild, and says so in its report.
            if repair { try writeIndex(summary) }
            report.rebuiltIndexes.append(LogFiles.join(directory, LogFiles.indexName(number)))
            return summary
        }
        let from = bad?.offset ?? summary.dataLength
        switch try SegmentScan.judgeTail(cursor: cursor, path: path, from: from, bad: bad, fileEnd: fileSize, endPosition: summary.endPosition,
                                         writerAtWork: repair ? nil : { writerAtWork() }) {
        case .clean:
            break
        case .writers(let bytes):
            report.writerTailBytes = bytes
        case .torn(let lastNonZero, let reason):
            if repair {
                report.cut = try cutTail(fd: fd, path: path, from: from, through: lastNonZero, reason: reason)
            } else {
                report.tornTail = .init(segmentFile: path, offset: from, bytes: lastNonZero + 1 - from, preservedAt: path + ".cut-\(from)", reason: reason)
            }
        }
        return summary
    }

    /// A segment whose header does not decode: the last one, whose creation a crash cut short
    /// (set aside by the writer, reported by a reader), or one a writer at work is creating
    /// now (left to it). Anything else is damage, and throws.
    private func passOverHeaderless(number: UInt64, path: String, why: String, cursor: BatchCursor, fileSize: UInt64,
                                    expectedBase: UInt64, isLast: Bool, report: inout RecoveryReport) throws {
        if !repair, isLast, writerAtWork() {
            report.writerTailBytes = fileSize
            return
        }
        guard isLast, number > 0 else { throw LogError.corrupt(why, file: path, offset: 0) }
        // A segment whose header is not valid can only be one whose creation a crash
        // interrupted, unless a batch in it proves otherwise.
        if case .damaged(let at, let reason) = try SegmentScan.analyzeTail(cursor: cursor, from: 0, fileEnd: fileSize, expectedPosition: expectedBase) {
            throw LogError.corrupt("\(why); \(reason)", file: path, offset: at)
        }
        if !repair {
            report.tornTail = .init(segmentFile: path, offset: 0, bytes: fileSize, preservedAt: path + ".torn", reason: why)
            return
        }
        let aside = path + ".torn"
        try syscalls.rename(path, to: aside)
        try syscalls.syncDirectory(directory)
        report.cut = .init(segmentFile: path, offset: 0, bytes: fileSize, preservedAt: aside, reason: why)
    }

    /// Whether a writer holds this log open now, or held it when this load began (always false
    /// for the writer itself): a reader leaves that writer's tail to it.
    func writerAtWork() -> Bool { !repair && (writerAtStart || syscalls.isLockedExclusively(LogFiles.join(directory, LogFiles.lockName))) }

    /// Uses the `.idx` of a sealed segment when it is whole and agrees with the data: the last
    /// batch it names must be there, valid, and end exactly at the end of the file.
    /// With `prefix` (the last segment), an index of the data up to where a clean close left it
    /// is used too: its last batch must end exactly at the index's data length.
    private func loadIndex(number: UInt64, header: SegmentHeader, cursor: BatchCursor, fileSize: UInt64, previousTimestamp: Int64,
                           prefix: Bool = false) throws -> SegmentSummary? {
        let indexPath = LogFiles.join(directory, LogFiles.indexName(number))
        guard syscalls.fileExists(indexPath), let bytes = try? readWholeFile(indexPath),
              let summary = IndexFile.decode(bytes),
              summary.number == number, summary.basePosition == header.basePosition,
              prefix ? summary.dataLength <= fileSize : summary.dataLength == fileSize,
              summary.lastBatchOffset >= UInt64(SegmentHeader.byteCount), summary.lastBatchOffset < fileSize,
              summary.index.first.map({ $0.offset == UInt64(SegmentHeader.byteCount) && $0.position == header.basePosition }) ?? false,
              summary.index.first!.timestamp >= previousTimestamp
        else { return nil }
        guard case .batch(let last, _, _) = try cursor.read(at: summary.lastBatchOffset, limit: fileSize),
              last.endPosition == summary.endPosition, last.batchCRC == summary.lastBatchCRC,
              last.lastTimestamp == summary.lastTimestamp,
              summary.lastBatchOffset + UInt64(last.length) == summary.dataLength
        else { return nil }
        return summary
    }

    func readWholeFile(_ path: String) throws -> [UInt8] {
        let fd = try syscalls.open(path, flags: O_RDONLY)
        defer { try? syscalls.close(fd, path: path) }
        let size = try syscalls.fileSize(fd, path: path)
        var bytes = [UInt8](repeating: 0, count: Int(size))
        let got = try bytes.withUnsafeMutableBytes { try syscalls.read(fd, into: $0, atAbsoluteOffset: 0, path: path) }
        return Array(bytes[0..<got])
    }

    /// Writes a sealed segment's index: to a temporary file, synced, renamed into place, and
    /// the directory synced.
    func writeIndex(_ summary: SegmentSummary) throws {
        try syscalls.writeAtomically(IndexFile.encode(summary), to: LogFiles.join(directory, LogFiles.indexName(summary.number)), directory: directory)
    }

    /// Saves `[from, through]` to a file beside the segment, then removes it from the segment.
    private func cutTail(fd: Int32, path: String, from: UInt64, through: UInt64, reason: String) throws -> RecoveryReport.TailCut {
        let count = through + 1 - from
        let aside = path + ".cut-\(from)"
        var bytes = [UInt8](repeating: 0, count: Int(count))
        _ = try bytes.withUnsafeMutableBytes { try syscalls.read(fd, into: $0, atAbsoluteOffset: from, path: path) }
        let out = try syscalls.open(aside, flags: O_WRONLY | O_CREAT | O_TRUNC)
        try bytes.withUnsafeBytes { try syscalls.write(out, $0, toAbsoluteOffset: 0, path: aside) }
        try syscalls.fdatasync(out, path: aside)
        try syscalls.close(out, path: aside)
        try syscalls.syncDirectory(directory)
        try syscalls.truncate(fd, toSize: from, path: path)
        try syscalls.fdatasync(fd, path: path)
        return .init(segmentFile: path, offset: from, bytes: count, preservedAt: aside, reason: reason)
    }
}
