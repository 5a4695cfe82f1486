import Glibc

/// Reads committed batches: scan forward from a position, seek by position or timestamp,
/// follow new batches as they commit. Any number of readers run beside the writer, each with
/// its own file descriptors and buffers. Every batch read is checked: header checksum, batch
/// checksum, chain, positions.
///
/// A reader is not meant to be shared between threads; make one per thread or task.
public final class LogReader {
    private let catalog: LogCatalog?
    private var fixedSnapshot: LogSnapshot?
    private let syscalls: SystemCalls
    private var open: (number: UInt64, fd: Int32, cursor: BatchCursor)?

    init(catalog: LogCatalog, syscalls: SystemCalls) {
        self.catalog = catalog
        self.fixedSnapshot = nil
        self.syscalls = syscalls
    }

    /// A reader for a directory another process may be writing: it sees the batches that were
    /// whole when it opened (``refresh()`` looks again) and never changes a byte.
    public init(directory: String, syscalls: SystemCalls = .live) throws {
        self.catalog = nil
        self.syscalls = syscalls
        let (snapshot, report) = try Self.load(directory: directory, syscalls: syscalls)
        self.fixedSnapshot = snapshot
        self.loadReport = report
    }

    /// A reader of the batches a snapshot of the log names (what another reader or a view saw),
    /// without looking at the directory again: cheap to make, one per thread or task.
    public init(snapshot: LogSnapshot, syscalls: SystemCalls = .live) {
        self.catalog = nil
        self.syscalls = syscalls
        self.fixedSnapshot = snapshot
    }

    /// What the last look at the directory found (a reader of a directory): a torn tail the
    /// next writer will cut, a writer's batch in progress left to it, indexes the next writer
    /// rebuilds. Nil for a writer's own reader.
    public private(set) var loadReport: RecoveryReport?

    private static func load(directory: String, syscalls: SystemCalls) throws -> (LogSnapshot, RecoveryReport) {
        guard syscalls.fileExists(directory) else {
            throw LogError(.invalidArgument, "there is no log directory here", file: directory)
        }
        let loaded = try LogLoader(directory: directory, syscalls: syscalls, repair: false).load()
        return (LogSnapshot(directory: directory, segments: loaded.segments), loaded.report)
    }

    deinit { closeSegment() }

    /// Looks at the directory again (read-only readers); a writer's reader always sees the latest.
    public func refresh() throws {
        if let fixed = fixedSnapshot { (fixedSnapshot, loadReport) = try Self.load(directory: fixed.directory, syscalls: syscalls) }
    }

    /// What this reader can see now.
    public var snapshot: LogSnapshot { catalog?.snapshot ?? fixedSnapshot! }

    private func closeSegment() {
        if let open { try? syscalls.close(open.fd, path: open.cursor.path) }
        open = nil
    }

    private func cursor(for segment: SegmentSummary, in snapshot: LogSnapshot) throws -> BatchCursor {
        if let open, open.number == segment.number {
            open.cursor.invalidate()
            return open.cursor
        }
        closeSegment()
        let path = LogFiles.join(snapshot.directory, LogFiles.segmentName(segment.number))
        let fd = try syscalls.open(path, flags: O_RDONLY)
        let cursor = BatchCursor(syscalls: syscalls, fd: fd, path: path)
        open = (segment.number, fd, cursor)
        return cursor
    }

    /// Calls `body` with every record from `position` on (in order, up to the end committed
    /// when the scan began); `body` returns false to stop. Returns the position after the
    /// last record given.
    @discardableResult
    public func scan(from position: UInt64 = 0, _ body: (RecordView) throws -> Bool) throws -> UInt64 {
        var next = position
        try forEachBatch(from: position) { header, payload, path, offset in
            var keepGoing = true
            if let problem = try RecordDecoder.decode(payload, header: header, skipBelow: next, { record in
                next = record.position + 1
                keepGoing = try body(record)
                return keepGoing
            }) {
                throw LogError.corrupt("the payload does not decode: \(problem)", file: path, offset: offset)
            }
            return keepGoing
        }
        return next
    }

    /// As ``scan(from:_:)``, a batch at a time: `body` gets the records of one batch (from
    /// `position` on), whose bytes stay valid until it returns, so that a caller can look
    /// ahead within the batch (a rebuild prefetches what the batch will touch). Returns the
    /// position after the last record given.
    @discardableResult
    public func scanBatches(from position: UInt64 = 0, _ body: (UnsafeBufferPointer<RecordView>) throws -> Bool) throws -> UInt64 {
        var next = position
        var views: [RecordView] = []
        try forEachBatch(from: position) { header, payload, path, offset in
            views.removeAll(keepingCapacity: true)
            if let problem = RecordDecoder.decode(payload, header: header, skipBelow: next, { record in
                views.append(record)
                return true
            }) {
                throw LogError.corrupt("the payload does not decode: \(problem)", file: path, offset: offset)
            }
            next = header.endPosition
            return try views.withUnsafeBufferPointer { try body($0) }
        }
        return next
    }

    /// Where a reader going backwards starts its next stretch: the first position of the last
    /// indexed batch that begins before `position` (the segment's first position when none is
    /// indexed there, 0 at the start). Always below `position` when `position` > 0.
    public func batchStart(before position: UInt64) -> UInt64 {
        guard position > 0 else { return 0 }
        let target = position - 1
        for segment in snapshot.segments.reversed() where segment.basePosition <= target {
            return segment.index.lastEntry { $0.position <= target }?.position ?? segment.basePosition
        }
        return 0
    }

    /// The records at `positions` (any order; those the log does not reach are left out),
    /// each batch read and checked once however many of them it holds: a client's events
    /// often come several to a batch (a purchase, its accrual, a level change).
    public func records(at positions: [UInt64]) throws -> [UInt64: LogRecord] {
        var found: [UInt64: LogRecord] = [:]
        let wanted = Set(positions)
        for position in positions.sorted() where found[position] == nil {
            _ = try scanBatches(from: position) { batch in
                for record in batch where wanted.contains(record.position) { found[record.position] = record.owned() }
                return false
            }
        }
        return found
    }

    /// Every committed batch that holds positions from `position` on, in order, until `body`
    /// returns false.
    private func forEachBatch(from position: UInt64, _ body: (BatchHeader, UnsafeRawBufferPointer, String, UInt64) throws -> Bool) throws {
        let snapshot = self.snapshot
        guard position < snapshot.endPosition else { return }
        var segmentIndex = Self.segmentIndex(containing: position, in: snapshot)
        while segmentIndex < snapshot.segments.count {
            let segment = snapshot.segments[segmentIndex]
            let start = try startOffset(in: segment, snapshot: snapshot) { $0.position <= position }
            var keepGoing = true
            try readBatches(segment, snapshot: snapshot, from: start.offset, expected: start.position) { header, payload, path, offset in
                if header.endPosition <= position { return true }
                keepGoing = try body(header, payload, path, offset)
                return keepGoing
            }
            if !keepGoing { return }
            segmentIndex += 1
        }
    }

    /// The batches of `segment` from `offset` (where a batch with base `expected` starts),
    /// each checked, until the segment's committed end or `body` returns false.
    private func readBatches(
        _ segment: SegmentSummary, snapshot: LogSnapshot, from offset: UInt64, expected: UInt64,
        _ body: (BatchHeader, UnsafeRawBufferPointer, String, UInt64) throws -> Bool
    ) throws {
        let cursor = try cursor(for: segment, in: snapshot)
        var at = offset
        var expectedPosition = expected
        var previousCRC: UInt32? = nil
        while at < segment.dataLength {
            switch try cursor.read(at: at, limit: segment.dataLength) {
            case .end(let where_):
                throw LogError.corrupt("the committed data ends early (zeros where a batch must be)", file: cursor.path, offset: where_)
            case .bad(let where_, let reason):
                throw LogError.corrupt(reason, file: cursor.path, offset: where_)
            case .batch(let header, let where_, let payload):
                guard header.basePosition == expectedPosition else {
                    throw LogError.corrupt("the batch starts at position \(header.basePosition), expected \(expectedPosition)", file: cursor.path, offset: where_)
                }
                if let previousCRC, header.previousBatchCRC != previousCRC {
                    throw LogError.corrupt("the hash chain breaks here", file: cursor.path, offset: where_)
                }
                previousCRC = header.batchCRC
                expectedPosition = header.endPosition
                at = where_ + UInt64(header.length)
                if try !body(header, payload, cursor.path, where_) { return }
            }
        }
    }

    /// Where to start reading a segment: the last index entry the predicate accepts, checked
    /// against the batch header it points at (a wrong entry means a damaged cache: the
    /// segment is then read from its first batch).
    private func startOffset(in segment: SegmentSummary, snapshot: LogSnapshot, _ isAtOrBefore: (IndexEntry) -> Bool) throws -> (offset: UInt64, position: UInt64) {
        let first = (UInt64(SegmentHeader.byteCount), segment.basePosition)
        guard let entry = segment.index.lastEntry(where: isAtOrBefore), entry.offset < segment.dataLength else { return first }
        let cursor = try cursor(for: segment, in: snapshot)
        if case .batch(let header, _, _) = try cursor.read(at: entry.offset, limit: segment.dataLength),
           header.basePosition == entry.position, header.firstTimestamp == entry.timestamp {
            return (entry.offset, entry.position)
        }
        return first
    }

    private static func segmentIndex(containing position: UInt64, in snapshot: LogSnapshot) -> Int {
        var low = 0
        var high = snapshot.segments.count
        while low < high {
            let mid = (low + high) / 2
            if snapshot.segments[mid].basePosition <= position { low = mid + 1 } else { high = mid }
        }
        return max(0, low - 1)
    }

    /// The batch CRC of the committed batch that ends just before `position` (0 for position
    /// 0), or nil when no batch ends there: what ties a snapshot to the log it was taken of.
    public func batchCRC(endingAt position: UInt64) throws -> UInt32? {
        guard position > 0 else { return 0 }
        var found: UInt32? = nil
        try forEachBatch(from: position - 1) { header, _, _, _ in
            if header.endPosition == position { found = header.batchCRC }
            return false
        }
        return found
    }

    /// The record at `position`, or nil when the log does not reach it.
    public func record(at position: UInt64) throws -> LogRecord? {
        var found: LogRecord? = nil
        try scan(from: position) { record in
            found = record.owned()
            return false
        }
        return found
    }

    /// The position of the first event whose timestamp is at or after `timestamp` (µs), or the
    /// end position when there is none. Uses the segments' sparse indexes, then reads batches.
    public func position(atOrAfterTimestamp timestamp: Int64) throws -> UInt64 {
        let snapshot = self.snapshot
        // The first segment that can hold such an event: the last whose events begin before it.
        var segmentIndex = 0
        for (i, segment) in snapshot.segments.enumerated() {
            if let first = segment.index.first, first.timestamp < timestamp { segmentIndex = i }
        }
        while segmentIndex < snapshot.segments.count {
            let segment = snapshot.segments[segmentIndex]
            let start = try startOffset(in: segment, snapshot: snapshot) { $0.timestamp < timestamp }
            var found: UInt64? = nil
            try readBatches(segment, snapshot: snapshot, from: start.offset, expected: start.position) { header, payload, path, offset in
                if header.lastTimestamp < timestamp { return true }
                if let problem = RecordDecoder.decode(payload, header: header, { record in
                    if record.timestamp >= timestamp { found = record.position; return false }
                    return true
                }) {
                    throw LogError.corrupt("the payload does not decode: \(problem)", file: path, offset: offset)
                }
                return found == nil
            }
            if let found { return found }
            segmentIndex += 1
        }
        return snapshot.endPosition
    }

    /// Every batch from `position` on as it commits, for a writer in this process: an
    /// `AsyncSequence` of owned records that waits for new batches and ends when the log closes.
    public func follow(from position: UInt64) -> LogFollower {
        LogFollower(reader: self, catalog: catalog, position: position)
    }
}

/// New records as they commit. See ``LogReader/follow(from:)``.
public struct LogFollower: AsyncSequence {
    public typealias Element = LogRecord
    let reader: LogReader
    let catalog: LogCatalog?
    let position: UInt64

    public func makeAsyncIterator() -> Iterator { Iterator(reader: reader, catalog: catalog, next: position) }

    public struct Iterator: AsyncIteratorProtocol {
        let reader: LogReader
        let catalog: LogCatalog?
        var next: UInt64
        var buffered: [LogRecord] = []
        var index = 0

        public mutating func next() async throws -> LogRecord? {
            while true {
                if index < buffered.count {
                    defer { index += 1 }
                    return buffered[index]
                }
                buffered.removeAll(keepingCapacity: true)
                index = 0
                var collected: [LogRecord] = []
                next = try reader.scan(from: next) { record in
                    collected.append(record.owned())
                    return collected.count < 4096
                }
                buffered = collected
                if !buffered.isEmpty { continue }
                guard let catalog, !catalog.isClosed else { return nil }
                try Task.checkCancellation()
                await catalog.waitForEvent(at: next)
                if catalog.isClosed && reader.snapshot.endPosition <= next { return nil }
            }
        }
    }
}
