import LedgerDomain
import LedgerLog

/// The advance step through the facade: what is due up to a time, decided under the writer's
/// lock and queued to the log like a submit's events.
extension Ledger {
    /// Appends the activations, expiries and birthday bonuses due up to `time` (idempotent).
    /// A time further ahead of the clock than ``Configuration/futureTolerance`` is refused
    /// (``LedgerError/timeInFuture(_:)``) unless `beyondClock` says it is meant: what an advance
    /// appends can never be taken back.
    @discardableResult
    public func advance(to time: Micros, beyondClock: Bool = false) throws(LedgerError) -> AdvanceResult {
        let (result, tickets, expected) = try beginAdvance(to: time, beyondClock: beyondClock)
        try finish(tickets, expected: expected)
        snapshotInBackgroundIfDue()
        return result
    }

    /// The same as ``advance(to:beyondClock:)``, suspending instead of blocking while the
    /// events become durable.
    @discardableResult
    public func advance(to time: Micros, beyondClock: Bool = false) async throws(LedgerError) -> AdvanceResult {
        let (result, tickets, expected) = try beginAdvance(to: time, beyondClock: beyondClock)
        try await finish(tickets, expected: expected)
        snapshotInBackgroundIfDue()
        return result
    }

    /// ``advance(to:beyondClock:)`` to a ``Timestamp``.
    @discardableResult
    public func advance(to time: Timestamp, beyondClock: Bool = false) throws(LedgerError) -> AdvanceResult {
        try advance(to: time.microsecondsSince1970, beyondClock: beyondClock)
    }

    /// ``advance(to:beyondClock:)`` to a ``Timestamp``, suspending while the events become durable.
    @discardableResult
    public func advance(to time: Timestamp, beyondClock: Bool = false) async throws(LedgerError) -> AdvanceResult {
        try await advance(to: time.microsecondsSince1970, beyondClock: beyondClock)
    }

    /// Decides what is due up to `time` and queues its events: the advance's first half.
    private func beginAdvance(to time: Micros, beyondClock: Bool) throws(LedgerError) -> (AdvanceResult, [AppendTicket], UInt64) {
        guard Time.supported.contains(time) else {
            throw LedgerError.timeInFuture("the time to advance to must be from year 0000 to 9999, got \(time) µs")
        }
        let now = options.clock()
        if !beyondClock, time > Self.latestAccepted(now: now, tolerance: options.futureTolerance) {
            throw LedgerError.timeInFuture(Self.aheadMessage("to", time, now: now, tolerance: options.futureTolerance)
                                           + "; an advance past it must be asked for explicitly (`ledger advance --allow-future`, or beyondClock: true)")
        }
        return try core.withLock { core throws(LedgerError) -> (AdvanceResult, [AppendTicket], UInt64) in
            try core.checkOpen()
            let start = core.state.nextPosition
            var out = core.takeScratch()
            // A long advance is queued to the log day by day, in pieces of about
            // `advancePiece` events, rather than held whole (the same events, in order).
            var tickets: [AppendTicket] = []
            var positions: [UInt64] = []
            var refused = 0
            func note(_ events: [EventRecord]) {
                positions += events.lazy.map(\.position)
                refused += events.lazy.filter { if case .operationRefused = $0.event { true } else { false } }.count
            }
            let builder = core.builder, body = core.body, log = log
            let counts: (activated: Int, expired: Int, birthdays: Int)
            do {
                counts = try core.state.advance(to: time, into: &out, flushAt: options.advancePiece) { events in
                    note(events)
                    tickets += try Self.queue(&events, builder: builder, body: body, log: log)
                    events.removeAll(keepingCapacity: true)
                }
                note(out)
                tickets += try Self.queue(&out, builder: builder, body: body, log: log)
            } catch {
                throw core.fail(error)
            }
            core.keepScratch(&out)
            let result = AdvanceResult(activated: counts.activated, expired: counts.expired, birthdayBonuses: counts.birthdays,
                                       birthdaysRefused: refused, positions: positions)
            return (result, tickets, start)
        }
    }
}
