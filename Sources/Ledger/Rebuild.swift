import Dispatch
import LedgerDomain
import LedgerLog
import LedgerSync

/// A rule-change rebuild (domain.md §8, `ledger rebuild`): the log's commands decided again
/// under other rules into fresh states (``LedgerDomain/Redecision``), beside a view of the
/// ledger as it stands, and the difference: who enters and leaves each segment and level,
/// whose balances and expiry schedule change, which commands the other rules would refuse.
/// It reads the log and changes nothing; the live ledger keeps serving.
///
/// The clients are split between workers by a hash of their id, each worker reading the whole
/// log and deciding its own clients' commands (and every command of no client); a client's
/// decisions depend only on its own events and the rules, so the split changes nothing (a
/// test compares one worker with two). The differences are per client, so they are taken by
/// the workers too.
public enum Rebuild {
    /// What to rebuild under.
    public struct Options: Sendable {
        /// Fields of the rules that replace the log's from its start (nil: the log's rules).
        public var rules: RulesPatch?
        /// Segment definitions by name that replace (or add to) the log's.
        public var segments: [String: [SegmentFilter]]
        /// Threads deciding (1 or more; the clients are split between them).
        public var workers: Int
        public init(rules: RulesPatch? = nil, segments: [String: [SegmentFilter]] = [:], workers: Int = 2) {
            self.rules = rules; self.segments = segments; self.workers = max(1, workers)
        }
    }

    /// Where a rebuild is: what it is doing, and how far through the log.
    public struct Progress: Sendable {
        public enum Phase: String, Sendable { case deciding, comparing }
        public var phase: Phase
        /// Events read by the slowest worker, of `total`.
        public var done: UInt64
        public var total: UInt64
    }

    /// Rebuilds `view`'s ledger (up to the view's position) under `options`, calling
    /// `progress` about five times a second from the calling thread.
    public static func run(_ view: LedgerView, directory: String, options: Options,
                           progress: (Progress) -> Void = { _ in }) throws -> RebuildReport {
        let started = monotonicSeconds()
        let end = view.position
        let now = SegmentQuery.now(view.state)
        let n = options.workers
        let read = Lock([UInt64](repeating: 0, count: n))
        let results = Lock([Int: Result<Partial, Error>]())
        let live = view.state
        let group = DispatchGroup()
        for k in 0..<n {
            DispatchQueue.global().async(group: group) {
                let result = Result { () throws -> Partial in
                    let decided = try Self.decide(directory: directory, partition: k, of: n, end: end, rules: options.rules) { position in read.withLock { $0[k] = position } }
                    return try Self.compare(decided, live: live, partition: k, of: n, options: options, asOf: now)
                }
                results.withLock { $0[k] = result }
            }
        }
        while group.wait(timeout: .now() + .milliseconds(200)) == .timedOut {
            let done = read.withLock { $0.min() ?? 0 }
            progress(Progress(phase: done >= end ? .comparing : .deciding, done: min(done, end), total: end))
        }
        progress(Progress(phase: .comparing, done: end, total: end))
        var report = RebuildReport(events: end, clients: live.totals.clients, workers: n)
        for k in 0..<n {
            let partial = try results.withLock { $0[k]! }.get()
            report.merge(partial)
        }
        report.sort()
        report.seconds = monotonicSeconds() - started
        return report
    }

    /// The partition a client id falls in (FNV-1a of its bytes).
    static func partition(_ key: UnsafeRawBufferPointer, of n: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(hash % UInt64(n))
    }

    /// One worker: the log read up to `end`, its clients' commands (and every command of no
    /// client) decided again.
    static func decide(directory: String, partition k: Int, of n: Int, end: UInt64, rules: RulesPatch?,
                       read: (UInt64) -> Void) throws -> Redecision {
        let reader = try LogReader(directory: Ledger.logDirectory(directory))
        var redecision = Redecision(override: rules)
        var failure: Error? = nil
        _ = try reader.scan { record in
            guard record.position < end else { return false }
            if record.position & 4095 == 0 { read(record.position) }
            guard record.streamKey.isEmpty || n == 1 || partition(record.streamKey, of: n) == k else {
                // Another worker's client: its advance events still mark how far the live
                // ledger's advance steps ran, which this worker's clients' due dates follow.
                if Redecision.isTimeDriven(typeCode: record.typeCode, at: record.timestamp, body: record.body) {
                    redecision.noteAdvance(to: record.timestamp)
                } else {
                    redecision.noteTime(record.timestamp)
                }
                return true
            }
            let decoded: EventCodec.Decoded
            do throws(BodyError) { decoded = try EventCodec.decode(typeCode: record.typeCode, record.body) } catch {
                if case .unknownType = error { return true }
                failure = LedgerError.undecodable(position: record.position, reason: error.description)
                return false
            }
            redecision.feed(EventRecord(position: record.position, at: record.timestamp, client: record.streamKeyString,
                                        derived: decoded.derived, event: decoded.event))
            return true
        }
        if let failure { throw failure }
        read(end)
        redecision.finish(advancedTo: .min)
        return redecision
    }

    /// The segments' members in `state` as of `asOf`: its defined segments, with `definitions`
    /// replacing or adding to them; `among`: only these clients.
    static func members(_ state: LedgerState, definitions: [String: [SegmentFilter]]?, asOf: Micros,
                        among: [Int32]? = nil) throws -> [String: Set<String>] {
        var evaluator = SegmentEvaluator(state: state, asOf: asOf)
        for (name, filters) in definitions ?? [:] { evaluator.define(name, filters) }
        var result: [String: Set<String>] = [:]
        for name in Set(state.segmentDefinitions.keys).union((definitions ?? [:]).keys) {
            do throws(FilterError) {
                let filters = try evaluator.filters(of: name)
                result[name] = Set(try evaluator.members(filters, among: among).map { state.clientID(Int($0)) })
            } catch {
                throw SegmentError(code: ErrorCode.invalidEvent.rawValue, message: "segment '\(name)': \(error.description)")
            }
        }
        return result
    }

    /// One worker's differences: its clients in the rebuilt state against the same clients live.
    static func compare(_ decided: Redecision, live: LedgerState, partition k: Int, of n: Int, options: Options,
                        asOf: Micros) throws -> Partial {
        let rebuilt = decided.state
        var partial = Partial()
        partial.commands = decided.commands
        partial.refused = decided.newlyRefused.map { RebuildReport.Refused(client: ClientID($0.client), position: $0.position, reason: $0.reason) }
        // The live segments evaluated over this worker's clients only.
        var mine: [Int32] = []
        for j in 0..<live.records.count {
            var id = live.clientID(j)
            if n == 1 || id.withUTF8({ partition(UnsafeRawBufferPointer($0), of: n) }) == k { mine.append(Int32(j)) }
        }
        let liveMembers = try members(live, definitions: nil, asOf: asOf, among: mine)
        let newMembers = try members(rebuilt, definitions: options.segments, asOf: asOf)
        for name in Set(liveMembers.keys).union(newMembers.keys) {
            let before = liveMembers[name] ?? [], after = newMembers[name] ?? []
            partial.segments[name, default: .init()].add(entered: after.subtracting(before), left: before.subtracting(after))
        }
        for i in 0..<rebuilt.records.count {
            let id = rebuilt.clientID(i)
            guard let j = live.clientIndex(id).map(Int.init) else { continue }
            let (old, new) = (live.level(j), rebuilt.level(i))
            if old != new {
                if let old { partial.levels[old, default: .init()].add(entered: [], left: [id]) }
                if let new { partial.levels[new, default: .init()].add(entered: [id], left: []) }
            }
            let (b0, b1) = (live.records[j].balances, rebuilt.records[i].balances)
            if b0 != b1 { partial.balances.append(RebuildReport.BalanceChange(client: ClientID(id), before: b0, after: b1)) }
            let (s0, s1) = (schedule(live, j), schedule(rebuilt, i))
            if s0 != s1 { partial.expiries.append(RebuildReport.ExpiryChange(client: ClientID(id), before: s0, after: s1)) }
        }
        return partial
    }

    /// What of a client's bonuses will burn on which day if nothing is spent: its lots not
    /// expired, by expiry day.
    static func schedule(_ state: LedgerState, _ i: Int) -> [RebuildReport.Burn] {
        var byDay: [Int64: Int64] = [:]
        for lot in state.lots(of: i) where lot.phase != .expired && lot.remaining > 0 { byDay[Time.day(of: lot.expiresAt), default: 0] += lot.remaining }
        return byDay.sorted { $0.key < $1.key }.map { RebuildReport.Burn(day: $0.key, amount: $0.value) }
    }

    /// A worker's share of the report.
    struct Partial {
        var commands = 0
        var refused: [RebuildReport.Refused] = []
        var segments: [String: RebuildReport.Transition] = [:]
        var levels: [String: RebuildReport.Transition] = [:]
        var balances: [RebuildReport.BalanceChange] = []
        var expiries: [RebuildReport.ExpiryChange] = []
    }
}
