import CoreMetrics
import LedgerLog
import Logging

/// What a ledger tells its operators (swift-log) and its dashboards (swift-metrics).
///
/// Logged: each open (from which snapshot, how many events replayed, how long), a snapshot
/// passed over and why (warning), a torn tail the log cut or found (warning), each background
/// snapshot written (info) or failed (error), and the log failing (critical: the ledger then
/// refuses everything until reopened). Counted, once each command's events are durable:
/// `ledger_commands` by `outcome` (accepted, refused, repeated), `ledger_refusals` by `code`
/// (the contract's), and `ledger_submit_batches`; timed: `ledger_submit_duration` (a submit
/// from its decision to durable, nanoseconds). From the log: `ledger_log_commits` (group
/// commits: under `.sync`, one sync each; submits per commit = the syncs they shared) and
/// `ledger_log_commit_duration` (the write and sync of a group). Nothing is logged or counted
/// per event.
final class Observability: Sendable {
    let logger: Logger
    private let accepted: Counter
    private let refusedTotal: Counter
    private let repeated: Counter
    private let batches: Counter
    private let refusals: [ErrorCode: Counter]
    private let submitDuration: Timer
    private let commits: Counter
    private let commitDuration: Timer

    init(logger: Logger, factory: (any MetricsFactory)?) {
        self.logger = logger
        let factory = factory ?? MetricsSystem.factory
        func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
            Counter(label: label, dimensions: dimensions, factory: factory)
        }
        accepted = counter("ledger_commands", [("outcome", "accepted")])
        refusedTotal = counter("ledger_commands", [("outcome", "refused")])
        repeated = counter("ledger_commands", [("outcome", "repeated")])
        batches = counter("ledger_submit_batches", [])
        submitDuration = Timer(label: "ledger_submit_duration", dimensions: [], factory: factory)
        commits = counter("ledger_log_commits", [])
        commitDuration = Timer(label: "ledger_log_commit_duration", dimensions: [], factory: factory)
        var refusals: [ErrorCode: Counter] = [:]
        for code in ErrorCode.allCases { refusals[code] = counter("ledger_refusals", [("code", code.rawValue)]) }
        self.refusals = refusals
    }

    /// Counts a log commit (given to the log as its `onCommit`).
    func committed(batches: Int, nanoseconds: UInt64) {
        commits.increment()
        commitDuration.recordNanoseconds(Int64(clamping: nanoseconds))
    }

    /// Counts a durable submit's outcomes and times it from `started` (monotonic nanoseconds).
    func count(_ outcomes: [Outcome], started: UInt64) {
        submitDuration.recordNanoseconds(Int64(clamping: monotonicNanoseconds() &- started))
        var counts = (accepted: 0, refused: 0, repeated: 0)
        for outcome in outcomes {
            switch outcome {
            case .accepted: counts.accepted += 1
            case .repeated: counts.repeated += 1
            case .refused(let reason, _, _):
                counts.refused += 1
                refusals[reason.code]?.increment()
            }
        }
        batches.increment()
        if counts.accepted > 0 { accepted.increment(by: Int64(counts.accepted)) }
        if counts.refused > 0 { refusedTotal.increment(by: Int64(counts.refused)) }
        if counts.repeated > 0 { repeated.increment(by: Int64(counts.repeated)) }
    }

    /// What opening found.
    func opened(_ directory: String, _ report: Ledger.OpenReport) {
        for rejection in report.snapshotRejections {
            logger.warning("snapshot passed over; the state was rebuilt from the log",
                           metadata: ["path": "\(rejection.path)", "reason": "\(rejection.reason)"])
        }
        if let cut = report.recovery.cut {
            logger.warning("the log's torn tail was cut back to its last whole batch",
                           metadata: ["segment": "\(cut.segmentFile)", "offset": "\(cut.offset)", "bytes": "\(cut.bytes)",
                                      "preservedAt": "\(cut.preservedAt)", "reason": "\(cut.reason)"])
        }
        logger.info("ledger opened", metadata: [
            "directory": "\(directory)", "events": "\(report.events)", "replayedEvents": "\(report.replayedEvents)",
            "snapshotPosition": "\(report.snapshot.map { "\($0.position)" } ?? "none")",
            "seconds": "\(report.seconds)"])
    }
}

extension Logger {
    /// A logger that drops everything: the library says nothing unless given one.
    static let silent = Logger(label: "ledger", factory: { _ in SwiftLogNoOpLogHandler() })
}
