import LedgerSync
import LedgerDomain
import LedgerLog

/// A reader's own copy of a ledger's state, kept up with the log by replaying what commits:
/// for readers that must never hold the writer up (a service answering cards beside a busy
/// writer), where ``Ledger/read(_:)`` would take the writer's lock for each copy.
///
/// It is rebuilt from the log when made, then catches up by replaying the batches committed
/// since: on ``catchUp()``, or as they commit under ``follow(pollingEvery:)``. It never touches
/// the writer's state, so the writer never waits for it. A replica of a ``Ledger`` in this
/// process sees a batch only once the log has synced it (under `Durability.sync`): a card read
/// here never shows an event that a failed sync takes back, which the writer's own reads can.
/// The price is a second copy of the state: as much memory again as the writer's.
///
/// Readers of one replica wait for each other only for one read's copy or one slice of a
/// catch-up (whole batches, up to the first that reaches ``defaultSlice`` events, applied
/// under its lock at a time). Between slices a reader sees the state between two batches,
/// never a command's events in part, though the stats' log figures (segments, bytes) stay
/// those of the catch-up's start until it ends.
public final class LedgerReplica: Sendable {
    /// How many events a catch-up applies under the replica's lock (in whole batches) before
    /// letting reads in.
    public static let defaultSlice: UInt64 = 65_536
    let slice: UInt64

    private struct Replica: @unchecked Sendable {  // its reader is used only under the lock
        var state: LedgerState
        /// The log as of the state's position (the stats' segments and bytes).
        var snapshot: LogSnapshot
        let reader: LogReader
    }

    private let replica: Lock<Replica>
    /// The writer's log in this process (its commits are waited for), or nil for a directory
    /// another process writes (looked at again at each catch-up).
    private let log: Log?
    /// How long the first rebuild took.
    public let rebuildSeconds: Double

    /// A replica of the ledger a process of its own writes in `directory` (or of one nobody
    /// writes). It sees whole batches, which another process's writer may not have synced
    /// yet; should such a writer take them back (a failed sync), ``catchUp()`` says so.
    public convenience init(directory: String) throws {
        try self.init(reader: LogReader(directory: Ledger.logDirectory(directory)), log: nil)
    }

    convenience init(log: Log, slice: UInt64 = defaultSlice) throws { try self.init(reader: log.reader(), log: log, slice: slice) }

    private init(reader: LogReader, log: Log?, slice: UInt64 = defaultSlice) throws {
        precondition(slice > 0)
        let started = monotonicSeconds()
        let snapshot = reader.snapshot
        let state = try Ledger.stateForReading(reader, through: snapshot.endPosition)
        self.replica = Lock(Replica(state: state, snapshot: snapshot, reader: reader))
        self.log = log
        self.slice = slice
        self.rebuildSeconds = monotonicSeconds() - started
    }

    /// The position of the next event the replica will apply: it holds every event before.
    public var position: UInt64 { replica.withLock { $0.state.nextPosition } }

    /// Applies what the log committed since, a slice at a time, and returns the position the
    /// replica then stands at. Throws when an event does not decode (naming its position; the
    /// replica stands just before it), and when the log now ends before the replica's position:
    /// events it applied were taken back, and only a new replica is right again.
    @discardableResult
    public func catchUp() throws -> UInt64 {
        let target = try replica.withLock { replica throws -> LogSnapshot in
            if log == nil { try replica.reader.refresh() }
            return replica.reader.snapshot
        }
        let end = target.endPosition
        while true {
            let (before, after) = try replica.withLock { replica throws -> (UInt64, UInt64) in
                let before = replica.state.nextPosition
                if before > end && log == nil {
                    throw LogError(.invalidArgument, "the log now ends at position \(end), before this replica's \(before): "
                                   + "its writer took back batches the replica had applied; make a new replica", file: target.directory)
                }
                if before < end { try Ledger.replay(replica.reader, into: &replica.state, through: end, wholeBatchesPast: before + slice) }
                let after = replica.state.nextPosition
                if after == end && replica.snapshot.endPosition < end { replica.snapshot = target }
                return (before, after)
            }
            if after >= end { return after }
            // Nothing applied while events remain: the log holds fewer than its snapshot said.
            if after == before { throw LedgerError.undecodable(position: after, reason: "the log's snapshot ends at \(end) but no event was read at \(after)") }
        }
    }

    /// Catches up as batches commit, until the log is closed or the task is cancelled (seen
    /// at the next commit). A replica of a directory another process writes looks at it every
    /// `interval`. The catch-ups run on the calling task's thread.
    public func follow(pollingEvery interval: Duration = .milliseconds(100)) async throws {
        while !Task.isCancelled {
            if let log {
                guard await log.waitForEvent(at: position) else { return }
            } else {
                try await Task.sleep(for: interval)
            }
            if Task.isCancelled { return }
            try catchUp()
        }
    }

    /// Reads the replica's state under its own lock (never the writer's): `body` should be
    /// quick and copy what it needs, as other readers of this replica wait meanwhile.
    package func read<R>(_ body: (borrowing LedgerState) throws -> R) rethrows -> R {
        try replica.withLock { try body($0.state) }
    }

    /// The client card (domain.md §5) as of the replica's position.
    public func client(id: String) -> ClientCard? { read { ClientCard.find($0, id: id) } }
    public func client(phone: String) -> ClientCard? { read { ClientCard.find($0, phone: phone) } }
    public func client(card: String) -> ClientCard? { read { ClientCard.find($0, card: card) } }

    /// Figures of the whole ledger as of the replica's position.
    public func stats() -> LedgerStats { replica.withLock { LedgerStats($0.state, $0.snapshot) } }
}

extension Ledger {
    /// A replica of this ledger's state for readers that must never hold the writer up: see
    /// ``LedgerReplica``. Making one rebuilds the state from the log (as opening does) and
    /// takes as much memory again.
    public func replica() throws -> LedgerReplica { try LedgerReplica(log: log) }
}
