import LedgerDomain

/// How far ahead of the clock a command's time may be (``Ledger/Configuration/futureTolerance``):
/// the checks and the words a submit, an advance and a dry run share.
extension Ledger {
    /// The refusal `time_in_future` of a command whose `at` is past `latest` (see
    /// ``latestAccepted(now:tolerance:)``), or nil.
    static func refusalIfAhead(_ command: Command, latest: Micros, now: Micros, tolerance: Micros) -> Outcome? {
        guard let at = command.at, at > latest else { return nil }
        return .refused(.timeInFuture(at: Timestamp(microsecondsSince1970: at)), message: aheadMessage("at", at, now: now, tolerance: tolerance), recorded: nil)
    }

    /// The latest time a command may give, `now` plus the tolerance (saturating).
    public static func latestAccepted(now: Micros, tolerance: Micros) -> Micros {
        let (sum, overflow) = now.addingReportingOverflow(max(0, tolerance))
        return overflow ? .max : sum
    }

    public static func aheadMessage(_ field: String, _ time: Micros, now: Micros, tolerance: Micros) -> String {
        "field '\(field)': \(Time.iso(time)) is more than \(Self.duration(tolerance)) ahead of this machine's clock (\(Time.iso(now))): refused, so that a mistyped year cannot make every later event out of order (the tolerance is Ledger.Configuration.futureTolerance; `ledger submit --future-tolerance`)"
    }

    /// A tolerance for people: `24 h`, `90 min`, `15 s`.
    static func duration(_ micros: Micros) -> String {
        if micros % 3_600_000_000 == 0 { return "\(micros / 3_600_000_000) h" }
        if micros % 60_000_000 == 0 { return "\(micros / 60_000_000) min" }
        return "\(micros / 1_000_000) s"
    }
}
