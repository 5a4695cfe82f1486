import LedgerBytes
import Glibc

/// The writer's own state: the open active segment, the group buffer, what is on disk. Only
/// the current group-commit leader touches it; leadership passes under the queue's lock,
/// which orders one leader's writes before the next one's reads.
final class WriterCore: @unchecked Sendable {
    let directory: String
    let options: LogOptions
    let syscalls: SystemCalls
    let loader: LogLoader
    private let lockFD: Int32
    private(set) var segments: [SegmentSummary]
    private var activeFD: Int32 = -1
    private var activePath = ""
    /// The file's size: the data plus the zeros reserved ahead of it.
    private var allocatedEnd: UInt64 = 0
    private let group = WriteBuffer(capacity: 1 << 20)
    private var isClosed = false
    /// The log's `LOG` file as written: it names the newest segment created.
    private(set) var identity: LogIdentity
    /// Whether the group being written started a new segment (`LOG` is written anew once the
    /// group is durable).
    private var rolled = false

    init(directory: String, options: LogOptions, lockFD: Int32, loader: LogLoader, segments: inout [SegmentSummary], identity: LogIdentity?) throws {
        self.directory = directory
        self.options = options
        self.syscalls = options.syscalls
        self.loader = loader
        self.lockFD = lockFD
        self.segments = segments
        self.identity = identity ?? LogIdentity.fresh(createdAt: options.clock())
        if self.segments.isEmpty {
            try createSegment(number: 0, basePosition: 0, previousBatchCRC: 0, previousTimestamp: Int64.min)
        } else {
            let number = self.segments[self.segments.count - 1].number
            activePath = LogFiles.join(directory, LogFiles.segmentName(number))
            activeFD = try syscalls.open(activePath, flags: O_RDWR)
            allocatedEnd = try syscalls.fileSize(activeFD, path: activePath)
        }
        // A new log's LOG is written after its first segment; a log from before identities gets
        // one; a segment created after the last LOG was written (a crash between) is named now.
        let newest = self.segments[self.segments.count - 1].number
        if identity == nil || identity!.newestSegment != newest {
            self.identity.newestSegment = newest
            try writeIdentity()
        }
        segments = self.segments
    }

    private func writeIdentity() throws {
        try identity.write(LogFiles.join(directory, LogIdentity.fileName), directory: directory, syscalls: syscalls)
    }

    private var active: SegmentSummary {
        get { segments[segments.count - 1] }
        set { segments[segments.count - 1] = newValue }
    }

    /// Writes the batches after the log's end, syncs once (under `.sync`), and returns each
    /// batch's positions with the snapshot to publish. A batch that breaks a rule (an earlier
    /// timestamp, larger than a segment) fails alone; an I/O error throws and fails them all.
    func commit(_ batches: [PreparedBatch]) throws(LogError) -> ([Result<Range<UInt64>, LogError>], LogSnapshot) {
        guard !isClosed else { throw LogError(.closed, "the log is closed") }
        let committed = segments
        do {
            return try write(batches)
        } catch {
            rollBack(to: committed)
            throw error
        }
    }

    /// After a failed write or sync, takes back what the failed group put on disk, so that a
    /// caller told "failed" never finds its events after a reopen: segments the group created
    /// are removed and the last committed one is cut back to its committed length, then
    /// synced. Best effort: if this fails too, the log stays poisoned and the next open's
    /// recovery decides, by the torn-tail rule, what the bytes are.
    private func rollBack(to committed: [SegmentSummary]) {
        guard let last = committed.last else { return }
        if activeFD >= 0 { try? syscalls.close(activeFD, path: activePath) }
        activeFD = -1
        if identity.newestSegment > last.number || segments.count > committed.count {
            // LOG may already name a segment this group created (its write can fail after the
            // rename): it names the committed last segment again before any segment goes.
            identity.newestSegment = last.number
            try? writeIdentity()
        }
        for segment in segments where segment.number > last.number {
            try? syscalls.unlink(LogFiles.join(directory, LogFiles.segmentName(segment.number)))
        }
        try? syscalls.unlink(LogFiles.join(directory, LogFiles.indexName(last.number)))
        let path = LogFiles.join(directory, LogFiles.segmentName(last.number))
        if let fd = try? syscalls.open(path, flags: O_RDWR) {
            try? syscalls.truncate(fd, toSize: last.dataLength, path: path)
            try? syscalls.fdatasync(fd, path: path)
            try? syscalls.close(fd, path: path)
        }
        try? syscalls.syncDirectory(directory)
        segments = committed
    }

    private func write(_ batches: [PreparedBatch]) throws(LogError) -> ([Result<Range<UInt64>, LogError>], LogSnapshot) {
        rolled = false
        var results: [Result<Range<UInt64>, LogError>] = []
        results.reserveCapacity(batches.count)
        let committedAtWrite = active.endPosition
        group.removeAll()
        var writeAt = active.dataLength
        for batch in batches {
            if batch.firstTimestamp < active.lastTimestamp {
                results.append(.failure(LogError(.timestampRegression, "the batch's first timestamp \(batch.firstTimestamp) µs precedes the log's last event at \(active.lastTimestamp) µs")))
                continue
            }
            let length = UInt64(batch.bytes.count)
            if UInt64(SegmentHeader.byteCount) + length > options.segmentBytes {
                results.append(.failure(.limit("batch bytes for a segment of \(options.segmentBytes) bytes", value: length, max: options.segmentBytes - UInt64(SegmentHeader.byteCount))))
                continue
            }
            if writeAt + UInt64(group.count) + length > options.segmentBytes {
                try flush(at: writeAt)
                try roll()
                writeAt = active.dataLength
            }
            let offset = writeAt + UInt64(group.count)
            let header = BatchHeader(
                length: UInt32(length), batchCRC: 0, codec: batch.codec, eventCount: batch.eventCount,
                basePosition: active.endPosition, firstTimestamp: batch.firstTimestamp, lastTimestamp: batch.lastTimestamp,
                payloadLength: batch.payloadLength, previousBatchCRC: active.lastBatchCRC, committedPositionAtWrite: committedAtWrite)
            let start = group.count
            batch.bytes.withUnsafeBytes { group.reserve($0.count); group.putBytes($0) }
            let sealed = group.withUnsafeMutableBytes(from: start) { bytes -> BatchHeader in
                var header = header
                header.encode(into: bytes)  // fields the batch CRC covers must be in place first
                header.batchCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[16..<Int(length)]))
                header.encode(into: bytes)
                return header
            }
            segments[segments.count - 1].noteBatch(sealed, offset: offset)
            results.append(.success(sealed.basePosition..<sealed.endPosition))
        }
        try flush(at: writeAt)
        if options.durability == .sync {
            try syscalls.fdatasync(activeFD, path: activePath)
        }
        if rolled {
            // Only now, with the new segment's batches durable, does LOG name it: a group that
            // failed takes its segments back, and LOG never names a segment that is not there.
            rolled = false
            identity.newestSegment = active.number
            try wrap { try writeIdentity() }
        }
        return (results, LogSnapshot(directory: directory, segments: segments))
    }

    /// Writes the group buffer at `offset`, reserving space ahead first.
    private func flush(at offset: UInt64) throws(LogError) {
        guard group.count > 0 else { return }
        let end = offset + UInt64(group.count)
        try wrap {
            if end > allocatedEnd {
                let target = min(options.segmentBytes, max(end, allocatedEnd + LogLimits.preallocationStepBytes))
                allocatedEnd = try reserve(upTo: target, needed: end)
            }
            try group.withUnsafeBytes { try syscalls.write(activeFD, $0, toAbsoluteOffset: offset, path: activePath) }
        }
        group.removeAll()
    }

    /// Reserves the active segment's space from `allocatedEnd` up to `target`, falling back on
    /// a nearly full disk to smaller reservations (the next 64 KiB, then exactly what `needed`
    /// takes): a 16 MiB step must not keep a small disk from taking one more event. Returns the
    /// new end of the reserved space; throws `disk_full` (saying how much is free) only when
    /// not even `needed` fits, before anything was written.
    private func reserve(upTo target: UInt64, needed: UInt64) throws -> UInt64 {
        let smaller = min(target, (needed + 65_535) / 65_536 * 65_536)
        var attempts = [target]
        if smaller < target { attempts.append(smaller) }
        if needed < attempts.last! { attempts.append(needed) }
        for (k, end) in attempts.enumerated() {
            do {
                return try syscalls.preallocate(activeFD, offset: allocatedEnd, length: end - allocatedEnd, path: activePath) ? end : needed
            } catch {
                guard error.code == .diskFull && k < attempts.count - 1 else { throw error }
            }
        }
        return needed  // unreachable: the last attempt returns or throws
    }

    /// Seals the active segment (cut to its data, synced, indexed) and starts the next one.
    private func roll() throws(LogError) {
        let sealed = active
        try wrap {
            try syscalls.truncate(activeFD, toSize: sealed.dataLength, path: activePath)
            try syscalls.fdatasync(activeFD, path: activePath)
            try syscalls.close(activeFD, path: activePath)
            activeFD = -1
            try loader.writeIndex(sealed)
            try createSegment(number: sealed.number + 1, basePosition: sealed.endPosition,
                              previousBatchCRC: sealed.lastBatchCRC, previousTimestamp: sealed.lastTimestamp)
        }
        rolled = true
    }

    /// Creates a segment file: header written and synced, space reserved, directory synced,
    /// all before any batch goes into it.
    private func createSegment(number: UInt64, basePosition: UInt64, previousBatchCRC: UInt32, previousTimestamp: Int64) throws {
        let path = LogFiles.join(directory, LogFiles.segmentName(number))
        let header = SegmentHeader(segmentNumber: number, basePosition: basePosition, createdAt: options.clock(), previousBatchCRC: previousBatchCRC)
        let fd = try syscalls.open(path, flags: O_RDWR | O_CREAT | O_EXCL)
        activeFD = fd
        activePath = path
        try header.encoded().withUnsafeBytes { try syscalls.write(fd, $0, toAbsoluteOffset: 0, path: path) }
        let reserve = min(options.segmentBytes, LogLimits.preallocationStepBytes)
        do {
            allocatedEnd = try syscalls.preallocate(fd, offset: 0, length: reserve, path: path) ? reserve : UInt64(SegmentHeader.byteCount)
        } catch {
            // A nearly full disk: no room reserved ahead; each commit reserves what it needs.
            guard error.code == .diskFull else { throw error }
            allocatedEnd = UInt64(SegmentHeader.byteCount)
        }
        try syscalls.fdatasync(fd, path: path)
        try syscalls.syncDirectory(directory)
        segments.append(SegmentSummary(
            number: number, basePosition: basePosition, dataLength: UInt64(SegmentHeader.byteCount), endPosition: basePosition,
            lastBatchCRC: previousBatchCRC, lastBatchOffset: 0, lastTimestamp: previousTimestamp, index: SparseIndex()))
    }

    private func wrap(_ body: () throws -> Void) throws(LogError) {
        do { try body() } catch let error as LogError { throw error } catch {
            throw LogError(.io, "\(error)")
        }
    }

    func close() throws {
        guard !isClosed else { return }
        isClosed = true
        defer {
            if activeFD >= 0 { try? syscalls.close(activeFD, path: activePath) }
            activeFD = -1
            try? syscalls.close(lockFD, path: LogFiles.join(directory, LogFiles.lockName))
        }
        if activeFD >= 0 {
            try syscalls.fdatasync(activeFD, path: activePath)
            // The active segment's index up to here: the next open reads only what follows
            // (data-format.md §6). A cache: not writing it fails nothing.
            if active.dataLength > UInt64(SegmentHeader.byteCount) { try? loader.writeIndex(active) }
        }
    }
}
