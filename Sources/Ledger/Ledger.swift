import LedgerSync
import Dispatch
import CoreMetrics
import Glibc
import LedgerBytes
import LedgerDomain
import LedgerLog
import Logging

/// A loyalty ledger: the log of a data directory plus the state rebuilt from it. This is
/// what other services call.
///
/// One writer inside: ``submit(_:)`` and ``advance(to:)`` decide and apply under a lock, queue
/// their events to the log in that order, and return once the events are durable. Readers
/// (``client(id:)``, ``read(_:)``, ``stats()``) take the same lock only for the moment it takes
/// to copy what they answer, never across a sync, and that copy does not grow with the ledger
/// (one client's card; the stats' totals are kept as events apply). They see the state as of
/// some position. Readers that must never hold the writer up read a ``LedgerReplica``
/// (``replica()``): a copy of the state of their own, kept up with the log.
/// A state that was decided but could not be made durable is never shown as durable: the
/// call that hit the failure throws, and the ledger refuses everything until it is reopened
/// (which rebuilds the state from what really is on disk).
public final class Ledger: Sendable {
    /// How a ledger runs: durability, snapshot cadence, clock, time tolerance, logger, metrics.
    public struct Configuration: Sendable {
        public var durability: Durability = .sync
        public var segmentBytes: UInt64 = LogLimits.segmentBytesDefault
        /// The engine's clock for commands that give no time (µs since 1970).
        public var clock: @Sendable () -> Micros = { wallClockMicros() }
        public var syscalls: SystemCalls = .live
        /// An advance step queues its events to the log in pieces of about this many (each
        /// day's whole), so that a long one does not hold them all in memory.
        public var advancePiece = 16_384
        /// How far ahead of ``clock`` a command's `at` may be (µs; a day by default). An event
        /// further ahead is refused `time_in_future` and not recorded, and ``advance(to:beyondClock:)``
        /// past it needs `beyondClock`: in an append-only log a time a year ahead, once
        /// accepted, would make every later real event `out_of_order` for good. Times far
        /// behind the clock stay allowed (a program replaying history from the past).
        public var futureTolerance: Micros = Self.futureToleranceDefault
        public static let futureToleranceDefault: Micros = Time.microsPerDay
        /// Whether opening starts from the newest valid snapshot (data-format.md §13) rather
        /// than replaying the whole log.
        public var useSnapshots = true
        /// A clean ``close()`` writes a snapshot when at least this many events lie past the
        /// newest one (nil: never). Replaying fewer costs less than writing the state.
        public var snapshotOnCloseAfter: UInt64? = 10_000
        /// A writer writes a snapshot in the background, from a copy of the state (shared with
        /// the live one until the writer next changes it), once this many events lie past the
        /// newest snapshot (nil: never)…
        public var snapshotEvery: UInt64? = 5_000_000
        /// …or once this long (µs) has passed since the newest with at least
        /// ``snapshotOnCloseAfter`` events past it (nil: no time rule).
        public var snapshotInterval: Micros? = 15 * 60_000_000
        /// Where the ledger tells an operator what it must know (opens, snapshots passed over
        /// or written, a torn tail cut, the log failing); silent by default.
        public var logger: Logger = .silent
        /// Where its counters go (commands by outcome, refusals by code); nil: the process's
        /// `MetricsSystem` (which counts nothing unless a service bootstraps it).
        public var metrics: (any MetricsFactory)? = nil
        public init(durability: Durability = .sync) { self.durability = durability }
    }

    /// What opening found: how many events were replayed, how long it took, what was skipped.
    public struct OpenReport: Sendable {
        public var events: UInt64
        public var seconds: Double
        public var unknownTypeEvents: Int64
        public var unknownFields: Int64
        public var recovery: RecoveryReport
        /// The snapshot the state started from (nil: a full replay), and the events replayed after it.
        public var snapshot: Snapshots.Info?
        public var replayedEvents: UInt64
        /// Snapshots passed over, and why (each renamed with `.set-aside` so no open checks it again).
        public var snapshotRejections: [Snapshots.Rejection]
    }

    public let directory: String
    public let configuration: Configuration
    var options: Configuration { configuration }
    public let openReport: OpenReport
    let log: Log
    let core: Lock<Core>
    let observability: Observability
    /// The position of the newest snapshot written or read (0: none).
    let newestSnapshot: Lock<UInt64>
    /// The background snapshot in progress, if any, and when the last one started.
    let background = Lock(BackgroundSnapshot())
    let backgroundDone = DispatchSemaphore(value: 0)
    /// Held while a snapshot file is written.
    let snapshotWriting = Lock(())

    struct BackgroundSnapshot {
        var running = false
        var lastStarted: Micros = 0
        var lastFailure: String?
        var written = 0
    }

    /// How many background snapshots this ledger wrote, and why the last that failed did.
    public var backgroundSnapshots: (written: Int, lastFailure: String?) { background.withLock { ($0.written, $0.lastFailure) } }

    struct Core: @unchecked Sendable {
        var state: LedgerState
        var failure: LogError?
        /// Set by ``Ledger/close()``: every later write is refused ``LedgerError/closed``.
        var closed = false
        let builder = RecordBatchBuilder()
        let body = WriteBuffer(capacity: 64 * 1024)
        /// Reads idempotency keys back for submits (its file and buffers kept between reads).
        let keyReader: LogReader
        /// The events a submit decides, kept between submits (emptied, capacity kept up to
        /// ``scratchKept`` events), so that a batch does not grow a fresh array by doubling.
        var scratch: [EventRecord] = []
        private static let scratchKept = 16_384

        /// The kept events array, empty, for a submit or an advance step to fill.
        mutating func takeScratch() -> [EventRecord] {
            var out: [EventRecord] = []
            swap(&out, &scratch)
            return out
        }

        /// Records a failure to queue events the state already holds: the ledger refuses
        /// everything until reopened. Returns the error to throw.
        mutating func fail(_ error: any Error) -> LedgerError {
            let failure = (error as? LogError) ?? LogError(.invalidArgument, "\(error)")
            self.failure = failure
            return LedgerError.failed(failure)
        }

        /// Throws when the ledger may not write: closed, or failed until reopened.
        func checkOpen() throws(LedgerError) {
            if closed { throw LedgerError.closed }
            if let failure { throw LedgerError.failed(failure) }
        }

        /// Keeps `out`'s buffer for the next call, unless a large call grew it.
        mutating func keepScratch(_ out: inout [EventRecord]) {
            guard out.capacity <= Self.scratchKept else { return }
            out.removeAll(keepingCapacity: true)
            swap(&out, &scratch)
        }
    }

    /// The log lives in `directory/log`.
    public static func logDirectory(_ directory: String) -> String { path(directory, "log") }

    /// `name` inside the data directory `directory`.
    static func path(_ directory: String, _ name: String) -> String { directory.hasSuffix("/") ? directory + name : directory + "/" + name }

    /// The ledger directory's identity file: the identity of the log it was made with.
    public static func identityFile(_ directory: String) -> String { path(directory, "LEDGER") }

    /// Checks that the directory holds the log it was made with (read-only): when `LEDGER`
    /// names a log, `log/LOG` must be there with the same identity. A log that vanished while the
    /// directory's identity remains is damage, never a new, empty ledger. Returns the
    /// directory's identity (nil for a new directory, or one from before identities).
    @discardableResult
    public static func checkIdentity(directory: String, syscalls: SystemCalls = .live) throws -> LogIdentity? {
        guard !directory.isEmpty else { throw LogError(.invalidArgument, "the data directory is an empty path") }
        let file = identityFile(directory)
        guard let mine = try LogIdentity.read(file, magic: LogIdentity.directoryMagic, syscalls: syscalls) else { return nil }
        let logFile = logDirectory(directory) + "/" + LogIdentity.fileName
        guard let log = try LogIdentity.read(logFile, syscalls: syscalls) else {
            throw LogError(.corrupt, "the ledger's log is missing: \(file) names log \(mine.hex), and there is no \(logFile)", file: logFile, offset: 0)
        }
        guard log.identity == mine.identity else {
            throw LogError(.corrupt, "\(logDirectory(directory)) holds another log (identity \(log.hex)) than the one \(file) names (\(mine.hex))", file: logFile, offset: 16)
        }
        return mine
    }

    /// Opens (creating when needed) the ledger in `directory` and rebuilds its state from the log.
    public init(directory: String, configuration options: Configuration = Configuration()) throws {
        var logOptions = LogOptions(segmentBytes: options.segmentBytes, durability: options.durability, syscalls: options.syscalls)
        logOptions.clock = options.clock
        let observability = Observability(logger: options.logger, factory: options.metrics)
        logOptions.onCommit = { batches, nanoseconds in observability.committed(batches: batches, nanoseconds: nanoseconds) }
        let known = try Self.checkIdentity(directory: directory, syscalls: options.syscalls)
        let log = try Log(directory: Self.logDirectory(directory), options: logOptions)
        if known == nil {
            // A new directory (or one from before identities) learns which log it holds.
            do {
                try log.identity.write(Self.identityFile(directory), directory: directory, magic: LogIdentity.directoryMagic, syscalls: options.syscalls)
            } catch {
                try? log.close()
                throw error
            }
        }
        let started = monotonicSeconds()
        let reader = log.reader()
        var rejections: [Snapshots.Rejection] = []
        var loaded = options.useSnapshots
            ? Snapshots.loadNewest(ledger: directory, identity: log.identity.identity, reader: reader, rejections: &rejections, syscalls: options.syscalls)
            : nil
        for rejection in rejections { Snapshots.setAside(rejection.path, syscalls: options.syscalls) }
        let snapshot = loaded?.info
        // Taken out, not copied: a second reference to its tables would make the first change
        // copy each of them whole.
        // From a snapshot, whose level windows and schedule are those a rebuild's end computes,
        // the events after it are applied as a live writer applies them, keeping both up to
        // date; from nothing, they are left alone and computed once at the end. Either way the
        // log keeps the keys' bytes (see submit).
        var state = loaded.take()?.state ?? LedgerState(rebuilding: true, keepsKeyBytes: false)
        do {
            try Self.replay(reader, into: &state, through: nil)
        } catch {
            try? log.close()
            throw error
        }
        if snapshot == nil { state.finishRebuild() }
        self.openReport = OpenReport(events: state.nextPosition, seconds: monotonicSeconds() - started,
                                     unknownTypeEvents: state.unknownTypeEvents, unknownFields: state.unknownFields, recovery: log.recovery,
                                     snapshot: snapshot, replayedEvents: state.nextPosition - (snapshot?.position ?? 0),
                                     snapshotRejections: rejections)
        self.observability = observability
        observability.opened(directory, openReport)
        self.newestSnapshot = Lock(snapshot?.position ?? 0)
        background.withLock { $0.lastStarted = options.clock() }
        self.directory = directory
        self.configuration = options
        self.log = log
        self.core = Lock(Core(state: state, failure: nil, keyReader: log.reader()))
    }

    /// Applies the log's events to `state`, from its next position up to (not including)
    /// `through` (the end when nil). With `wholeBatchesPast`, it stops sooner: at the end of
    /// the first batch that reaches that position, so that the state stands between batches
    /// (never between a command's events). An event of a type this build does not know is
    /// skipped and counted; an event that does not decode is an error naming its position.
    package static func replay(_ reader: LogReader, into state: inout LedgerState, through: UInt64?,
                              wholeBatchesPast pause: UInt64? = nil) throws {
        var failure: Error? = nil
        try reader.scanBatches(from: state.nextPosition) { records in
            if let pause, state.nextPosition >= pause { return false }
            // A software pipeline: while event k is applied, the client record of event k + 16
            // and the lots and id-table slots of event k + 8 are already being fetched, so the
            // cache misses overlap.
            let count = records.count
            for k in 0..<min(count, 16) { state.prefetchClient(typeCode: records[k].typeCode, body: records[k].body) }
            for k in 0..<min(count, 8) { state.prefetchLots(typeCode: records[k].typeCode, body: records[k].body) }
            for k in 0..<count {
                if k + 16 < count { state.prefetchClient(typeCode: records[k + 16].typeCode, body: records[k + 16].body) }
                if k + 8 < count {
                    let ahead = records[k + 8]
                    state.prefetchLots(typeCode: ahead.typeCode, body: ahead.body)
                    state.prefetchKeys(typeCode: ahead.typeCode, key: ahead.idempotencyKey, body: ahead.body)
                }
                let record = records[k]
                if let through, record.position >= through { return false }
                do throws(BodyError) {
                    let skipped = try state.replay(position: record.position, at: record.timestamp, typeCode: record.typeCode,
                                                   client: record.streamKey, key: record.idempotencyKey, body: record.body)
                    if skipped > 0 { state.noteUnknownFields(skipped) }
                } catch .unknownType {
                    state.skipUnknown(position: record.position, at: record.timestamp)
                } catch {
                    failure = LedgerError.undecodable(position: record.position, reason: error.description)
                    return false
                }
            }
            return true
        }
        if let failure { throw failure }
    }

    /// A state rebuilt from the log for reading only (views and replicas): it never decides,
    /// so its decision caches stay empty, and never looks up a key.
    static func stateForReading(_ reader: LogReader, through: UInt64?) throws -> LedgerState {
        var state = LedgerState(rebuilding: true, keepsKeyBytes: false)
        try replay(reader, into: &state, through: through)
        return state
    }

    /// Checks, event by event, that the client numbers the bodies carry agree with their
    /// stream keys (see ``ClientNumberCheck``). Returns how many numbers were checked; throws
    /// ``LedgerError/undecodable(position:reason:)`` naming the first that does not.
    public static func verifyClientNumbers(_ reader: LogReader) throws -> UInt64 {
        var check = ClientNumberCheck()
        var failure: Error? = nil
        try reader.scan { record in
            if let problem = check.check(typeCode: record.typeCode, streamKey: record.streamKey, body: record.body) {
                failure = LedgerError.undecodable(position: record.position, reason: problem)
                return false
            }
            return true
        }
        if let failure { throw failure }
        return check.checked
    }

    /// Checks and records commands, in order, as one atomic append (split only between
    /// commands when it is larger than a batch may be). Returns each command's outcome once
    /// every event is durable. A refusal of one command changes nothing and does not stop the
    /// others. Throws only when the log fails, after which the ledger must be reopened.
    public func submit(_ commands: [Command]) throws(LedgerError) -> [Outcome] { try finish(beginSubmit(commands)) }

    /// The same as ``submit(_:)``, suspending instead of blocking while the events become
    /// durable: no thread is held, so tasks submitting at once ride the same group commit.
    /// The commands are decided under the writer's lock as they arrive (a moment, never
    /// through a sync), in the order the calls take it.
    public func submit(_ commands: [Command]) async throws(LedgerError) -> [Outcome] { try await finish(beginSubmit(commands)) }

    /// A submit whose commands are checked and whose events are queued to the log, not yet
    /// known to be durable: ``finish(_:)`` waits for that and gives the outcomes.
    public struct PendingSubmit: Sendable {
        fileprivate let outcomes: [Outcome]
        fileprivate let tickets: [AppendTicket]
        fileprivate let expected: UInt64
        /// When it began (monotonic nanoseconds), for `ledger_submit_duration`.
        fileprivate let started: UInt64
    }

    /// The first half of ``submit(_:)``: checks and records the commands and queues their
    /// events, without waiting for them to be durable. A caller can check the next commands
    /// while the log makes these durable, as long as it shows no outcome before
    /// ``finish(_:)`` returns it. Submits are decided in the order they begin.
    public func beginSubmit(_ commands: [Command]) throws(LedgerError) -> PendingSubmit {
        let started = monotonicNanoseconds()
        let (outcomes, tickets, expected) = try core.withLock { core throws(LedgerError) -> ([Outcome], [AppendTicket], UInt64) in
            try core.checkOpen()
            let start = core.state.nextPosition
            var out = core.takeScratch()
            var outcomes: [Outcome] = []
            outcomes.reserveCapacity(commands.count)
            let now = options.clock()
            let latest = Self.latestAccepted(now: now, tolerance: options.futureTolerance)
            let reader = core.keyReader
            let keyAt = { (position: UInt64) throws -> [UInt8]? in try Self.key(at: position, reader: reader) }
            do {
                // Each stretch's client lookups are prefetched while the stretch before it runs.
                let stretch = 64
                core.state.prefetch(commands.prefix(stretch))
                for start in stride(from: 0, to: commands.count, by: stretch) {
                    let end = min(commands.count, start + stretch)
                    if end < commands.count { core.state.prefetch(commands[end..<min(commands.count, end + stretch)]) }
                    for k in start..<end {
                        if let ahead = Self.refusalIfAhead(commands[k], latest: latest, now: now, tolerance: options.futureTolerance) {
                            outcomes.append(ahead)
                            continue
                        }
                        outcomes.append(try core.state.execute(commands[k], now: now, into: &out, keyAt: keyAt))
                    }
                }
            } catch {
                // A key could not be read back; what this call decided so far is in the state
                // but will not be in the log: stop until reopened.
                let failure = (error as? LogError) ?? LogError(.invalidArgument, "\(error)")
                core.failure = failure
                throw LedgerError.failed(failure)
            }
            let tickets = try Self.enqueue(&out, core: &core, log: log)
            core.keepScratch(&out)
            return (outcomes, tickets, start)
        }
        return PendingSubmit(outcomes: outcomes, tickets: tickets, expected: expected, started: started)
    }

    /// Waits until the events of a begun submit are durable and returns its outcomes. Throws
    /// when the log failed, after which the ledger must be reopened.
    public func finish(_ pending: PendingSubmit) throws(LedgerError) -> [Outcome] {
        finished(pending, end: try finish(pending.tickets, expected: pending.expected))
    }

    /// The same as ``finish(_:)``, suspending instead of blocking.
    public func finish(_ pending: PendingSubmit) async throws(LedgerError) -> [Outcome] {
        finished(pending, end: try await finish(pending.tickets, expected: pending.expected))
    }

    private func finished(_ pending: PendingSubmit, end: UInt64) -> [Outcome] {
        observability.count(pending.outcomes, started: pending.started)
        // The log now gives these keys back: the state need not hold their bytes.
        core.withLock { $0.state.releaseKeys(below: end) }
        snapshotInBackgroundIfDue()
        return pending.outcomes
    }

    /// The idempotency key of the record at `position`, read from the log (for confirming a
    /// key; see ``LedgerState/answer(forKey:keyAt:)``). Throws when the log does not have it.
    static func key(at position: UInt64, in log: Log) throws -> [UInt8]? { try key(at: position, reader: log.reader()) }

    static func key(at position: UInt64, reader: LogReader) throws -> [UInt8]? {
        guard let record = try reader.record(at: position) else {
            throw LogError(.invalidArgument, "the log has no record at position \(position) to confirm an idempotency key against")
        }
        return record.idempotencyKey
    }

    /// What an idempotency key answers, if a command used it (confirmed against the log; a
    /// matching candidate is read back under the lock, so the writer waits for that read).
    public func answer(forKey key: String) throws -> IdempotentAnswer? {
        try read { state in try state.answer(forKey: key, keyAt: { try Self.key(at: $0, in: log) }) }
    }

    /// Every idempotency key with its answer, keys read back from the log (for tests and
    /// reports: it reads a record a key).
    public func idempotencyAnswers() throws -> [String: IdempotentAnswer] {
        try read { state in try state.idempotency(keyAt: { try Self.key(at: $0, in: log) }) }
    }

    /// Waits for the tickets; returns the position after their events.
    @discardableResult
    func finish(_ tickets: [AppendTicket], expected: UInt64) throws(LedgerError) -> UInt64 {
        var next = expected
        for ticket in tickets {
            do { try accept(ticket.wait(), next: &next) } catch { throw failed(error) }
        }
        return next
    }

    /// The same, suspending on each ticket instead of blocking a thread.
    @discardableResult
    func finish(_ tickets: [AppendTicket], expected: UInt64) async throws(LedgerError) -> UInt64 {
        var next = expected
        for ticket in tickets {
            do { try accept(await ticket.value(), next: &next) } catch { throw failed(error) }
        }
        return next
    }

    private func accept(_ range: Range<UInt64>, next: inout UInt64) {
        precondition(range.lowerBound == next, "the log gave positions \(range) where the ledger expected \(next)")
        next = range.upperBound
    }

    /// A ticket that failed: the ledger stops until reopened.
    private func failed(_ error: LogError) -> LedgerError {
        observability.logger.critical("the log failed: the ledger refuses everything until reopened", metadata: ["error": "\(error)"])
        core.withLock { $0.failure = $0.failure ?? error }
        return LedgerError.failed(error)
    }

    /// Encodes the records into batches and queues them to the log in order. A command's
    /// events (its cause and what it derived) always go into one batch: each command is
    /// encoded whole first, and a new batch begins when the whole command would not fit.
    /// (`records` is inout only to be read in place: it is left as it was.)
    private static func enqueue(_ records: inout [EventRecord], core: inout Core, log: Log) throws(LedgerError) -> [AppendTicket] {
        do { return try queue(&records, builder: core.builder, body: core.body, log: log) } catch { throw core.fail(error) }
    }

    /// What `enqueue` does, with the core's builder and body buffer, leaving a failure to the
    /// caller (see ``Core/fail(_:)``).
    static func queue(_ records: inout [EventRecord], builder: RecordBatchBuilder, body: WriteBuffer, log: Log) throws -> [AppendTicket] {
        guard !records.isEmpty else { return [] }
        // Records are read where they lie: through the array's subscript each would be copied.
        return try records.withUnsafeMutableBufferPointer { records in try queue(records, builder: builder, body: body, log: log) }
    }

    private static func queue(_ records: UnsafeMutableBufferPointer<EventRecord>, builder: RecordBatchBuilder, body span: WriteBuffer,
                              log: Log) throws -> [AppendTicket] {
        var tickets: [AppendTicket] = []
        builder.reset()
        var ends: [Int] = []
        var start = 0
        while start < records.count {
            var end = start + 1
            while end < records.count && records[end].derived { end += 1 }
            // Encode the command's bodies back to back, noting where each ends.
            span.removeAll()
            ends.removeAll(keepingCapacity: true)
            var recordBytes = 0
            for k in start..<end {
                // Moved out and back (bitwise): passed from the buffer, the event would be
                // copied (its strings and arrays retained and released) for the call.
                let slot = records.baseAddress! + k
                let record = slot.move()
                EventCodec.encode(record.event, derived: record.derived, clientNumber: record.clientNumber, into: span)
                ends.append(span.count)
                recordBytes += 60 + record.client.utf8.count + (record.idempotencyKey?.utf8.count ?? 0)
                slot.initialize(to: consume record)
            }
            let events = end - start
            let bytes = span.count + recordBytes
            if !builder.isEmpty && (Int(builder.count) + events > Int(LogLimits.batchEventsMax)
                                    || builder.payloadByteCount + bytes > Int(LogLimits.batchPayloadBytesMax)) {
                tickets.append(try log.beginAppend(builder))
                builder.reset()
            }
            try span.withUnsafeBytes { all in
                var bodyStart = 0
                for k in 0..<(end - start) {
                    try append(records, start + k, body: UnsafeRawBufferPointer(rebasing: all[bodyStart..<ends[k]]), to: builder)
                    bodyStart = ends[k]
                }
            }
            start = end
        }
        if !builder.isEmpty { tickets.append(try log.beginAppend(builder)) }
        return tickets
    }

    /// Appends `records[index]` (read where it lies: passed by value, the whole record would
    /// be copied) with its encoded body.
    private static func append(_ records: UnsafeMutableBufferPointer<EventRecord>, _ index: Int, body bodyBytes: UnsafeRawBufferPointer,
                               to builder: RecordBatchBuilder) throws {
        let at = records[index].at, typeCode = records[index].event.typeCode
        var client = records[index].client
        try client.withUTF8 { key in
            if var idem = records[index].idempotencyKey {
                try idem.withUTF8 { idemBytes in
                    try builder.append(timestamp: at, typeCode: typeCode, streamKey: UnsafeRawBufferPointer(key),
                                       idempotencyKey: UnsafeRawBufferPointer(idemBytes), body: bodyBytes)
                }
            } else {
                try builder.append(timestamp: at, typeCode: typeCode, streamKey: UnsafeRawBufferPointer(key), idempotencyKey: nil, body: bodyBytes)
            }
        }
    }

    /// Reads the state under the lock: `body` must be quick and copy what it needs. Package
    /// only: a caller reads the cards, stats and answers below, never the state's storage.
    package func read<R>(_ body: (borrowing LedgerState) throws -> R) rethrows -> R {
        try core.withLock { try body($0.state) }
    }

    /// The client card (domain.md §5) of a client by id, phone (any format) or card number.
    public func client(id: String) -> ClientCard? { read { ClientCard.find($0, id: id) } }
    public func client(phone: String) -> ClientCard? { read { ClientCard.find($0, phone: phone) } }
    public func client(card: String) -> ClientCard? { read { ClientCard.find($0, card: card) } }

    /// Figures of the whole ledger.
    public func stats() -> LedgerStats {
        let snapshot = log.snapshot
        return read { LedgerStats($0, snapshot) }
    }

    /// The position the next event will take: how many events the log holds.
    public var position: UInt64 { read { $0.nextPosition } }

    /// A reader of the underlying log (for journals and audits).
    public func logReader() -> LogReader { log.reader() }

}

/// What an advance step appended: counts by kind and every position.
public struct AdvanceResult: Sendable, Equatable, Codable {
    public var activated: Int
    public var expired: Int
    public var birthdayBonuses: Int
    /// Birthdays whose bonus was refused (the client blocked, or not a participant), each
    /// journaled as `operation.refused`: the only refusals an advance step makes.
    public var birthdaysRefused: Int
    public var positions: [UInt64]

    /// (Public for services that stand the ledger in for tests.)
    public init(activated: Int, expired: Int, birthdayBonuses: Int, birthdaysRefused: Int, positions: [UInt64]) {
        self.activated = activated; self.expired = expired; self.birthdayBonuses = birthdayBonuses
        self.birthdaysRefused = birthdaysRefused; self.positions = positions
    }
}

public enum LedgerError: Error, Sendable, CustomStringConvertible {
    /// The log failed; the ledger refuses everything until reopened.
    case failed(LogError)
    /// An event in the log does not decode.
    case undecodable(position: UInt64, reason: String)
    /// The ledger was closed (``Ledger/close()``); open it again to write.
    case closed
    /// An advance step to a time too far ahead of the clock (see ``Ledger/Configuration/futureTolerance``).
    case timeInFuture(String)

    public var description: String {
        switch self {
        case .failed(let error) where error.code == .diskFull:
            "\(error.message) [\(error.file ?? "")]; free space, then open the ledger again (each `ledger` command opens it anew)"
        case .failed(let error): "the log failed (\(error)); the ledger must be reopened"
        case .undecodable(let position, let reason): "the event at position \(position) does not decode: \(reason)"
        case .timeInFuture(let message): message
        case .closed: "the ledger is closed; open it again to write"
        }
    }
}

func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}
