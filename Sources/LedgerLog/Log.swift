import LedgerSync
import Dispatch
import Glibc

/// When `append` returns.
public enum Durability: String, Sendable {
    /// After fdatasync of everything appended: an acknowledged event survives a crash.
    case sync
    /// After the write system call: fast, but a crash of the machine may lose acknowledged events.
    case none
}

public struct LogOptions: Sendable {
    /// The size at which a segment is sealed and a new one begins.
    public var segmentBytes: UInt64 = LogLimits.segmentBytesDefault
    public var durability: Durability = .sync
    /// `.lz4` compresses a payload when that makes it smaller; `.none` never does.
    public var compression: PayloadCodec = .lz4
    public var syscalls: SystemCalls = .live
    /// Microseconds since 1970 for segment creation times.
    public var clock: @Sendable () -> Int64 = { wallClockMicros() }
    /// Called by the writer after each group commit it made durable (one write of the group
    /// and, under `.sync`, one sync) with the group's batches and how long the commit took
    /// (nanoseconds): for metrics. It runs on the committing thread: keep it short.
    public var onCommit: (@Sendable (_ batches: Int, _ nanoseconds: UInt64) -> Void)? = nil

    public init(segmentBytes: UInt64 = LogLimits.segmentBytesDefault, durability: Durability = .sync,
                compression: PayloadCodec = .lz4, syscalls: SystemCalls = .live) {
        self.segmentBytes = segmentBytes
        self.durability = durability
        self.compression = compression
        self.syscalls = syscalls
    }
}

/// A monotonic clock in nanoseconds (for durations).
public func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// The wall clock in microseconds since 1970.
public func wallClockMicros() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_REALTIME, &spec)
    return Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1000
}

/// What readers may see: the segments with the extent of their committed data. The writer
/// publishes a new one after each commit; a reader takes the current one and reads within it.
public struct LogSnapshot: Sendable {
    public let directory: String
    public let segments: [SegmentSummary]
    /// The position after the last committed event.
    public var endPosition: UInt64 { segments.last?.endPosition ?? 0 }
    public var lastTimestamp: Int64? { segments.last.map(\.lastTimestamp).flatMap { $0 == Int64.min ? nil : $0 } }
}

/// Shared between the writer and the readers of one process.
final class LogCatalog: Sendable {
    private struct State {
        var snapshot: LogSnapshot
        var waiters: [(UInt64, CheckedContinuation<Void, Never>)] = []
        var closed = false
    }
    private let state: Lock<State>

    init(_ snapshot: LogSnapshot) { state = Lock(State(snapshot: snapshot)) }

    var snapshot: LogSnapshot { state.withLock { $0.snapshot } }

    func publish(_ snapshot: LogSnapshot) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.snapshot = snapshot
            let end = snapshot.endPosition
            let ready = state.waiters.filter { $0.0 < end }.map(\.1)
            state.waiters.removeAll { $0.0 < end }
            return ready
        }
        for waiter in ready { waiter.resume() }
    }

    func close() {
        let all = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.closed = true
            defer { state.waiters.removeAll() }
            return state.waiters.map(\.1)
        }
        for waiter in all { waiter.resume() }
    }

    var isClosed: Bool { state.withLock { $0.closed } }

    /// Returns once the log holds an event at `position`, or it is closed.
    func waitForEvent(at position: UInt64) async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.closed || state.snapshot.endPosition > position { return true }
                state.waiters.append((position, continuation))
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

/// A batch encoded and compressed by its caller, waiting for the writer to give it positions.
struct PreparedBatch {
    /// 64 bytes of room for the header, then the stored payload.
    var bytes: [UInt8]
    var codec: PayloadCodec
    var payloadLength: UInt32
    var eventCount: UInt32
    var firstTimestamp: Int64
    var lastTimestamp: Int64
}

/// The append-only log of one directory, as its single writer. Any number of readers
/// (``reader()``) run beside it and see only whole committed batches.
///
/// `append` is safe to call from many threads and tasks at once: appends that arrive while
/// a commit is being written and synced wait, and the next commit writes and syncs them all
/// together (group commit), so many callers share one fdatasync.
public final class Log: Sendable {
    public let directory: String
    public let options: LogOptions
    /// What opening the directory found (and any torn tail it cut).
    public let recovery: RecoveryReport
    /// The log's identity (its `LOG` file), drawn when the log was created.
    public let identity: LogIdentity
    let catalog: LogCatalog
    private let core: WriterCore
    /// Where async callers' commits run: blocking writes and syncs must not hold one of the
    /// few threads of Swift's cooperative pool, or callers could not queue up behind a sync.
    private let committer = DispatchQueue(label: "ledger.log.committer", qos: .userInitiated)
    private let queue: Lock<QueueState>

    private struct QueueState {
        var pending: [(PreparedBatch, Completion)] = []
        var pendingBytes = 0
        var leaderActive = false
        var poisoned: LogError? = nil
        var closed = false
    }

    private enum Completion {
        case waiter(SyncWaiter)
        /// Waited for later, maybe by another thread: committed on the committer queue.
        case deferred(SyncWaiter)
        case continuation(CheckedContinuation<Range<UInt64>, any Error>)

        func finish(_ result: Result<Range<UInt64>, LogError>) {
            switch self {
            case .waiter(let waiter), .deferred(let waiter): waiter.finish(result)
            case .continuation(let continuation): continuation.resume(with: result.mapError { $0 as any Error })
            }
        }
    }

    /// Opens (creating when needed) the log in `directory`, takes the writer's lock, and
    /// recovers: a torn tail is cut back to the last whole batch and reported in ``recovery``;
    /// damage anywhere else fails with an error naming the file and byte offset.
    public init(directory: String, options: LogOptions = LogOptions()) throws {
        guard options.segmentBytes >= LogLimits.segmentBytesMin, options.segmentBytes <= LogLimits.segmentBytesMax else {
            throw LogError(.invalidArgument, "segment size \(options.segmentBytes) is outside \(LogLimits.segmentBytesMin)...\(LogLimits.segmentBytesMax) bytes")
        }
        let syscalls = options.syscalls
        try syscalls.makeDirectory(directory)
        let lockPath = LogFiles.join(directory, LogFiles.lockName)
        let lockFD = try syscalls.open(lockPath, flags: O_RDWR | O_CREAT)
        do {
            // A reader probing whether a writer is at work holds a shared lock for an instant:
            // a held lock is looked at again for a moment before it means another writer.
            var attempts = 0
            while try !syscalls.lockExclusive(lockFD, path: lockPath) {
                attempts += 1
                guard attempts < Self.lockAttempts else {
                    throw LogError(.locked, "another writer has this log open (it holds the lock)", file: lockPath)
                }
                usleep(2_000)
            }
            let loader = LogLoader(directory: directory, syscalls: syscalls, repair: true)
            var loaded = try loader.load()
            let core = try WriterCore(directory: directory, options: options, lockFD: lockFD, loader: loader, segments: &loaded.segments,
                                      identity: loaded.report.identity)
            self.directory = directory
            self.options = options
            self.recovery = loaded.report
            self.identity = core.identity
            self.core = core
            self.catalog = LogCatalog(LogSnapshot(directory: directory, segments: loaded.segments))
            self.queue = Lock(QueueState())
        } catch {
            try? syscalls.close(lockFD, path: lockPath)
            throw error
        }
    }

    /// How many times a held lock is tried, 2 ms apart, before the open fails with `locked`.
    static let lockAttempts = 25

    /// Whether a writer (in any process) holds the log in `directory` open now.
    public static func writerIsActive(directory: String, syscalls: SystemCalls = .live) -> Bool {
        syscalls.isLockedExclusively(LogFiles.join(directory, LogFiles.lockName))
    }

    /// The position the next appended event will get.
    public var endPosition: UInt64 { catalog.snapshot.endPosition }

    /// What readers see now.
    public var snapshot: LogSnapshot { catalog.snapshot }

    /// A reader over this log's committed batches.
    public func reader() -> LogReader { LogReader(catalog: catalog, syscalls: options.syscalls) }

    /// Returns once a committed batch holds `position` (true), or once the log is closed
    /// without one (false): for followers that catch up as batches commit.
    public func waitForEvent(at position: UInt64) async -> Bool {
        await catalog.waitForEvent(at: position)
        return catalog.snapshot.endPosition > position
    }

    /// Encodes and (when it helps) compresses a builder's records into a batch; the caller's
    /// thread does this work, outside the writer's lock.
    private func prepare(_ builder: RecordBatchBuilder) throws(LogError) -> PreparedBatch {
        guard !builder.isEmpty else { throw LogError(.invalidArgument, "an empty batch cannot be appended") }
        let payloadLength = builder.payloadByteCount
        let headerBytes = BatchHeader.byteCount
        var codec = PayloadCodec.none
        let bytes = builder.payload.withUnsafeBytes { payload -> [UInt8] in
            if options.compression == .lz4 && payloadLength >= 64 {
                let bound = LZ4Block.compressBound(payloadLength)
                var compressedLength = 0
                let compressed = [UInt8](unsafeUninitializedCapacity: headerBytes + bound) { buffer, initialized in
                    let target = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(buffer)[headerBytes...])
                    compressedLength = LZ4Block.compress(payload, into: target) ?? Int.max
                    initialized = compressedLength < payloadLength ? headerBytes + compressedLength : 0
                }
                if compressedLength < payloadLength {
                    codec = .lz4
                    return compressed
                }
            }
            return [UInt8](unsafeUninitializedCapacity: headerBytes + payloadLength) { buffer, initialized in
                UnsafeMutableRawBufferPointer(buffer).baseAddress!.advanced(by: headerBytes)
                    .copyMemory(from: payload.baseAddress!, byteCount: payloadLength)
                initialized = headerBytes + payloadLength
            }
        }
        return PreparedBatch(bytes: bytes, codec: codec, payloadLength: UInt32(payloadLength), eventCount: builder.count,
                             firstTimestamp: builder.firstTimestamp, lastTimestamp: builder.lastTimestamp)
    }

    /// Appends the builder's records as one atomic batch and returns their positions once the
    /// log's durability is met. Blocks the calling thread. The builder is left as it was.
    @discardableResult
    public func append(_ builder: RecordBatchBuilder) throws(LogError) -> Range<UInt64> {
        let prepared = try prepare(builder)
        let waiter = SyncWaiter()
        enqueue(prepared, .waiter(waiter))
        return try waiter.wait().get()
    }

    /// The same as ``append(_:)-(RecordBatchBuilder)``, suspending instead of blocking while
    /// another caller's commit is under way.
    @discardableResult
    public func append(_ builder: RecordBatchBuilder) async throws -> Range<UInt64> {
        let prepared = try prepare(builder)
        return try await withCheckedThrowingContinuation { continuation in
            enqueue(prepared, .continuation(continuation))
        }
    }

    /// Queues the builder's records as one atomic batch and returns at once; the ticket's
    /// ``AppendTicket/wait()`` returns their positions once the durability is met. Batches are
    /// written in the order they were queued, so a caller that queues under its own lock and
    /// waits outside it keeps its order without holding the lock through a sync.
    public func beginAppend(_ builder: RecordBatchBuilder) throws(LogError) -> AppendTicket {
        let prepared = try prepare(builder)
        let waiter = SyncWaiter()
        enqueue(prepared, .deferred(waiter))
        return AppendTicket(waiter: waiter)
    }

    /// Appends owned records as one batch (a convenience over a builder).
    @discardableResult
    public func append(_ records: [LogRecord]) throws(LogError) -> Range<UInt64> {
        let builder = RecordBatchBuilder(capacity: 4096)
        for record in records { try builder.append(record) }
        return try append(builder)
    }

    private func enqueue(_ batch: PreparedBatch, _ completion: Completion) {
        let lead = queue.withLock { state -> Result<Bool, LogError> in
            if state.closed { return .failure(LogError(.closed, "the log is closed")) }
            if let poisoned = state.poisoned { return .failure(Self.poisonedError(poisoned)) }
            state.pending.append((batch, completion))
            state.pendingBytes += batch.bytes.count
            if state.leaderActive { return .success(false) }
            state.leaderActive = true
            return .success(true)
        }
        switch lead {
        case .failure(let error): completion.finish(.failure(error))
        case .success(true):
            // A blocking caller leads on its own thread; an async one hands the work over.
            if case .waiter = completion { drain() } else { committer.async { self.drain() } }
        case .success(false): break
        }
    }

    static func poisonedError(_ cause: LogError) -> LogError {
        if cause.code == .diskFull {
            // Said as what it is: the remedy is room on the disk, then a new open.
            return LogError(.diskFull, cause.message + " (this writer acknowledges nothing more until the log is opened again)", file: cause.file, errno: cause.errno)
        }
        return LogError(.writerPoisoned, "an earlier write or sync failed (\(cause)); nothing more is acknowledged until the log is reopened", file: cause.file)
    }

    /// The leader's loop: take everything queued (up to a group's byte limit), write it, sync
    /// it once, publish, answer each caller; repeat until the queue is empty.
    private func drain() {
        while true {
            let (group, poisoned) = queue.withLock { state -> ([(PreparedBatch, Completion)], LogError?) in
                if state.pending.isEmpty {
                    state.leaderActive = false
                    return ([], nil)
                }
                var taken = 0
                var bytes = 0
                while taken < state.pending.count && (taken == 0 || bytes + state.pending[taken].0.bytes.count <= LogLimits.groupCommitBytesMax) {
                    bytes += state.pending[taken].0.bytes.count
                    taken += 1
                }
                let group = Array(state.pending[0..<taken])
                state.pending.removeFirst(taken)
                state.pendingBytes -= bytes
                return (group, state.poisoned)
            }
            if group.isEmpty { return }
            if let poisoned {
                for (_, completion) in group { completion.finish(.failure(Self.poisonedError(poisoned))) }
                continue
            }
            do {
                let started = options.onCommit == nil ? 0 : monotonicNanoseconds()
                let (results, snapshot) = try core.commit(group.map(\.0))
                catalog.publish(snapshot)
                options.onCommit?(group.count, monotonicNanoseconds() &- started)
                for (index, (_, completion)) in group.enumerated() { completion.finish(results[index]) }
            } catch {
                queue.withLock { $0.poisoned = error }
                for (_, completion) in group { completion.finish(.failure(error)) }
            }
        }
    }

    /// Waits for appends under way, syncs, and releases the lock. Appends after this fail.
    public func close() throws {
        queue.withLock { $0.closed = true }
        // A leader still draining finishes its groups; wait for it by taking the lead ourselves.
        while queue.withLock({ $0.leaderActive }) { sched_yield() }
        catalog.close()
        try core.close()
    }

    deinit { try? core.close() }
}

/// An append under way; see ``Log/beginAppend(_:)``.
public struct AppendTicket: Sendable {
    let waiter: SyncWaiter

    /// Blocks until the batch is durable (or failed) and returns its positions.
    public func wait() throws(LogError) -> Range<UInt64> { try waiter.wait().get() }

    /// Suspends until the batch is durable (or failed) and returns its positions: many
    /// tasks waiting on tickets hold no thread, so they all ride the same group commit.
    public func value() async throws(LogError) -> Range<UInt64> { try await waiter.waitAsync().get() }
}

/// Answers one append: to a thread blocked on it, or to a task suspended on it (either may
/// come before or after the answer).
final class SyncWaiter: Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private struct State {
        var result: Result<Range<UInt64>, LogError>?
        var continuation: CheckedContinuation<Result<Range<UInt64>, LogError>, Never>?
    }
    private let state = Lock(State())

    func finish(_ value: Result<Range<UInt64>, LogError>) {
        let suspended = state.withLock { state in
            state.result = value
            defer { state.continuation = nil }
            return state.continuation
        }
        semaphore.signal()
        suspended?.resume(returning: value)
    }

    func wait() -> Result<Range<UInt64>, LogError> {
        semaphore.wait()
        return state.withLock { $0.result! }
    }

    func waitAsync() async -> Result<Range<UInt64>, LogError> {
        await withCheckedContinuation { continuation in
            let answered = state.withLock { state in
                if state.result == nil { state.continuation = continuation }
                return state.result
            }
            if let answered { continuation.resume(returning: answered) }
        }
    }
}
