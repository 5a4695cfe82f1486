import LedgerSync
import Dispatch
import Glibc
import LedgerBytes
import LedgerDomain
import LedgerLog

/// The state of a ledger directory read without taking the writer's lock and without
/// changing a byte: for reports and queries beside a running writer (it sees the batches that
/// were whole when it was made).
public struct LedgerView: Sendable {
    package let state: LedgerState
    /// The position after the last event the view holds.
    public var position: UInt64 { state.nextPosition }
    public let snapshot: LogSnapshot
    /// How long rebuilding the state from the log took.
    public let rebuildSeconds: Double
    /// What reading the directory found: a torn tail the next writer will cut, a writer's
    /// batch in progress (read up to the last whole batch before it).
    public let loadReport: RecoveryReport?

    /// The snapshot the state started from (nil: a full replay), and the snapshots passed
    /// over and why (a view changes nothing: they stay where they are).
    public let startSnapshot: Snapshots.Info?
    public let snapshotRejections: [Snapshots.Rejection]

    /// The directory's state now, or as it was (``AsOf``): before the first event after a
    /// time, or before a position. A view as of the past starts from the newest snapshot at or
    /// before that point (or the log's start) and replays up to it.
    public init(directory: String, useSnapshots: Bool = true, asOf: AsOf? = nil) throws {
        let started = monotonicSeconds()
        let identity = try Ledger.checkIdentity(directory: directory)
        let reader = try LogReader(directory: Ledger.logDirectory(directory))
        let through = try asOf?.end(in: reader)
        var rejections: [Snapshots.Rejection] = []
        var loaded = useSnapshots
            ? Snapshots.loadNewest(ledger: directory, identity: identity?.identity, reader: reader, rejections: &rejections, atMost: through)
            : nil
        let snapshot = loaded?.info
        var state = loaded.take()?.state ?? LedgerState(rebuilding: true, keepsKeyBytes: false)
        try Ledger.replay(reader, into: &state, through: through)
        self.state = state
        self.startSnapshot = snapshot
        self.snapshotRejections = rejections
        self.snapshot = reader.snapshot
        self.loadReport = reader.loadReport
        self.rebuildSeconds = monotonicSeconds() - started
    }

    public func client(id: String) -> ClientCard? { ClientCard.find(state, id: id) }
    /// The client who holds a phone (any format) now, without making its card.
    public func clientID(phone: String) -> ClientID? {
        Phone.normalize(phone).flatMap { state.holder(ofPhone: $0) }.map { ClientID(state.clientID(Int($0))) }
    }
    public func client(phone: String) -> ClientCard? { ClientCard.find(state, phone: phone) }
    public func client(card: String) -> ClientCard? { ClientCard.find(state, card: card) }
    public func stats() -> LedgerStats { LedgerStats(state, snapshot) }
}

/// Figures of the whole ledger: `ledger stats --json` prints these (with the process's own
/// figures beside them), and their `Codable` form has the same names.
/// A point in a ledger's past: the state after every event up to and including a time, or
/// before a position (the events 0..<position).
public enum AsOf: Sendable, Equatable {
    case time(Timestamp)
    case position(UInt64)

    /// The position the state stops before, in the log `reader` reads (nil: its end).
    func end(in reader: LogReader) throws -> UInt64? {
        switch self {
        case .position(let p): return min(p, reader.snapshot.endPosition)
        case .time(let t):
            return t.microsecondsSince1970 == .max ? nil : try reader.position(atOrAfterTimestamp: t.microsecondsSince1970 + 1)
        }
    }
}

public struct LedgerStats: Sendable, Equatable, Codable {
    public var events: UInt64
    public var clients: Int
    public var blockedClients: Int
    public var deletedClients: Int
    /// The log's segment files (not loyalty segments).
    public var segments: Int
    public var logBytes: UInt64
    public var firstEventAt: Timestamp?
    public var lastEventAt: Timestamp?
    public var rulesVersion: Int64
    /// The sum of the balances of the clients not deleted (minor units).
    public var balances: Balances
    /// Events by type name (types with none left out).
    public var perType: [String: Int64]
    public var unknownTypeEvents: Int64
    public var purchases: Int
    public var openOrders: Int

    /// O(event types): the figures over clients are the state's ``Totals``, kept as events apply.
    init(_ state: borrowing LedgerState, _ snapshot: LogSnapshot) {
        let totals = state.totals
        var perType: [String: Int64] = [:]
        for (code, count) in state.typeCounts.enumerated() where count > 0 {
            if let kind = EventKind(rawValue: UInt32(code)) { perType[kind.name] = count }
        }
        self.events = state.nextPosition
        self.clients = totals.clients
        self.blockedClients = totals.blockedClients
        self.deletedClients = totals.deletedClients
        self.segments = snapshot.segments.count
        self.logBytes = snapshot.segments.reduce(UInt64(0)) { $0 + $1.dataLength }
        self.firstEventAt = snapshot.segments.first?.index.first.map { Timestamp(microsecondsSince1970: $0.timestamp) }
        self.lastEventAt = state.lastEventAt == Int64.min ? nil : Timestamp(microsecondsSince1970: state.lastEventAt)
        self.rulesVersion = state.rules.version
        self.balances = totals.balances
        self.perType = perType
        self.unknownTypeEvents = state.unknownTypeEvents
        self.purchases = state.purchaseCount
        self.openOrders = totals.openOrders
    }
}
