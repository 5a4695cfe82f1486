import LedgerDomain
import LedgerLog

/// What a command would do, decided against the ledger's state without appending anything:
/// its outcome and the events it would record (the lots a write-off or a return would take,
/// the debt it would leave are in their fields). Support runs it before a manual correction
/// or a return.
public struct DryRunResult: Sendable, Equatable {
    public var outcome: Outcome
    /// The events it would record, at the positions they would take if nothing else came first.
    public var events: [EventRecord]

    public init(outcome: Outcome, events: [EventRecord]) { self.outcome = outcome; self.events = events }
}

/// A series of dry runs on one private copy of a state: each sees what the ones before it
/// would have done, and the ledger is never changed (the copy shares the state's storage until
/// it writes, and then copies only what it writes).
public struct DryRun: Sendable {
    var state: LedgerState
    let snapshot: LogSnapshot
    let clock: @Sendable () -> Micros
    let tolerance: Micros

    init(state: LedgerState, snapshot: LogSnapshot, clock: @escaping @Sendable () -> Micros, tolerance: Micros) {
        var state = state
        // A view rebuilt from the log without a snapshot has not built what only decisions
        // read (level windows, the due-time schedule): this copy builds them.
        if state.isRebuilding { state.finishRebuild() }
        self.state = state
        self.snapshot = snapshot
        self.clock = clock
        self.tolerance = tolerance
    }

    /// Decides the commands in order; what each would record is kept for the next.
    public mutating func run(_ commands: [Command]) throws -> [DryRunResult] {
        let reader = LogReader(snapshot: snapshot)
        let now = clock()
        let latest = Ledger.latestAccepted(now: now, tolerance: tolerance)
        var results: [DryRunResult] = []
        for command in commands {
            if let ahead = Ledger.refusalIfAhead(command, latest: latest, now: now, tolerance: tolerance) {
                results.append(DryRunResult(outcome: ahead, events: []))
                continue
            }
            var out: [EventRecord] = []
            let outcome = try state.execute(command, now: now, into: &out, keyAt: { try Ledger.key(at: $0, reader: reader) })
            results.append(DryRunResult(outcome: outcome, events: out))
        }
        return results
    }
}

extension Ledger {
    /// A dry run on the ledger's state as it stands (durable and not yet durable alike): the
    /// writer's lock is held only to copy the state.
    public func dryRun() -> DryRun {
        let state: LedgerState = read { copy $0 }
        return DryRun(state: state, snapshot: log.snapshot, clock: options.clock, tolerance: options.futureTolerance)
    }
}

extension LedgerView {
    /// A dry run on the view's state (no lock: a support tool beside a running writer).
    public func dryRun(clock: @escaping @Sendable () -> Micros = { wallClockMicros() },
                       futureTolerance: Micros = Ledger.Configuration.futureToleranceDefault) -> DryRun {
        DryRun(state: state, snapshot: snapshot, clock: clock, tolerance: futureTolerance)
    }
}
