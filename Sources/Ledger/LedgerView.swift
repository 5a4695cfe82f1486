import Dispatch
import Glibc
import LedgerBytes
import LedgerDomain
import LedgerLog
import Synchronization

/// The state of a ledger directory read without taking the writer's lock and without
/// changing a byte: for reports and queries beside a running writer (it sees the batches that
/// were whole when it was made).
public struct LedgerView: Sendable {
    public let state: LedgerState
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

    public init(directory: String, useSnapshots: Bool = true) throws {
        let started = monotonicSeconds()
        let identity = try Ledger.checkIdentity(directory: directory)
        let reader = try LogReader(directory: Ledger.logDirectory(directory))
        var rejections: [Snapshots.Rejection] = []
        var loaded = useSnapshots ? Snapshots.loadNewest(ledger: directory, identity: identity?.identity, reader: reader, rejections: &rejections) : nil
        let snapshot = loaded?.info
        var state = loaded.take()?.state ?? LedgerState(rebuilding: true, keepsKeyBytes: false)
        try Ledger.replay(reader, into: &state, through: nil)
        self.state = state
        self.startSnapshot = snapshot
        self.snapshotRejections = rejections
        self.snapshot = reader.snapshot
        self.loadReport = reader.loadReport
        self.rebuildSeconds = monotonicSeconds() - started
    }

    public func client(id: String) -> ClientCard? { ClientCard.find(state, id: id) }
    public func client(phone: String) -> ClientCard? { ClientCard.find(state, phone: phone) }
    public func client(card: String) -> ClientCard? { ClientCard.find(state, card: card) }
    public func stats() -> LedgerStats { LedgerStats(state, snapshot) }
}

public struct LedgerStats: Sendable {
    public var events: UInt64
    public var clients: Int
    public var blockedClients: Int
    public var deletedClients: Int
    public var segments: Int
    public var logBytes: UInt64
    public var firstEventAt: Micros?
    public var lastEventAt: Micros?
    public var rulesVersion: Int64
    public var balances: Balances
    public var perType: [(String, Int64)]
    public var unknownTypeEvents: Int64
    public var purchases: Int
    public var openOrders: Int

    /// O(event types): the figures over clients are the state's ``Totals``, kept as events apply.
    init(_ state: borrowing LedgerState, _ snapshot: LogSnapshot) {
        let totals = state.totals
        var perType: [(String, Int64)] = state.typeCounts.enumerated().compactMap { code, count in
            count > 0 ? EventKind(rawValue: UInt32(code)).map { ($0.name, count) } : nil
        }
        perType.sort { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
        self.events = state.nextPosition
        self.clients = totals.clients
        self.blockedClients = totals.blockedClients
        self.deletedClients = totals.deletedClients
        self.segments = snapshot.segments.count
        self.logBytes = snapshot.segments.reduce(UInt64(0)) { $0 + $1.dataLength }
        self.firstEventAt = snapshot.segments.first?.index.first?.timestamp
        self.lastEventAt = state.lastEventAt == Int64.min ? nil : state.lastEventAt
        self.rulesVersion = state.rules.version
        self.balances = totals.balances
        self.perType = perType
        self.unknownTypeEvents = state.unknownTypeEvents
        self.purchases = state.purchaseCount
        self.openOrders = totals.openOrders
    }
}
