/// One client's events applied in a state of their own: what an audit replay needs to know
/// the client's balances after each of its events without applying everyone else's.
///
/// A client's balances, lots, purchases and standing change only through its own events; the
/// rules change what is *decided*, and the log records decisions, so applying the recorded
/// events of one client gives that client the state a full replay gives it (a test checks it
/// client by client against the full replay of generated programs). What such a state does
/// not have is everything that spans clients: other holders of a phone, totals, the parts.
extension LedgerState {
    /// An empty state for ``applyAlone(_:)``: rebuilding (no decision caches), no parts.
    package static func alone() -> LedgerState {
        var state = LedgerState(rebuilding: true, keepsKeyBytes: false)
        state.keepsParts = false
        return state
    }

    /// Applies one of the client's recorded events. Its position may be any beyond the last
    /// applied (the other clients' events are not given), and the client is found by its id
    /// (it is number 0 here, whatever number the log gave it).
    package mutating func applyAlone(_ record: EventRecord) {
        precondition(!keepsParts, "applyAlone is for a state made by alone()")
        precondition(record.position >= nextPosition, "events must be applied in log order")
        nextPosition = record.position
        var record = record
        record.clientNumber = nil
        apply(record)
    }
}
