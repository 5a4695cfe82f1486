import LedgerDomain

/// What a rule-change rebuild found (``Rebuild``): per segment and per level who enters and
/// who leaves, whose balances and expiry schedule change, which commands would be refused.
/// Empty changes under the log's own rules and definitions (a test holds it to that).
public struct RebuildReport: Sendable {
    /// Events read (the log up to the view's position) and clients (not deleted).
    public var events: UInt64
    public var clients: Int
    public var workers: Int
    /// Commands decided again.
    public var commands = 0
    public var seconds = 0.0
    public var eventsPerSecond: Double { seconds > 0 ? Double(events) / seconds : 0 }

    /// Who enters and who leaves, by client id (ascending).
    public struct Transition: Sendable, Equatable {
        public var entered: [ClientID] = []
        public var left: [ClientID] = []
        public var isEmpty: Bool { entered.isEmpty && left.isEmpty }
        mutating func add(entered e: Set<String>, left l: Set<String>) {
            entered += e.map { ClientID($0) }
            left += l.map { ClientID($0) }
        }
        mutating func add(entered e: [String], left l: [String]) { add(entered: Set(e), left: Set(l)) }
    }

    /// Bonuses that burn on a day if nothing is spent first.
    public struct Burn: Sendable, Equatable {
        /// Days since 1970.
        public var day: Int64
        public var amount: Int64
    }

    /// A client whose balances differ: as they stand, and under the rebuild's rules.
    public struct BalanceChange: Sendable, Equatable {
        public var client: ClientID
        public var before: Balances
        public var after: Balances
    }

    /// A client whose expiry schedule differs.
    public struct ExpiryChange: Sendable, Equatable {
        public var client: ClientID
        public var before: [Burn]
        public var after: [Burn]
    }

    /// A command the live ledger accepted that the rebuild's rules refuse.
    public struct Refused: Sendable, Equatable {
        public var client: ClientID
        /// Its position in the log.
        public var position: UInt64
        public var reason: String
    }

    /// By segment name; only segments with someone entering or leaving.
    public var segments: [String: Transition] = [:]
    /// By level name.
    public var levels: [String: Transition] = [:]
    public var balances: [BalanceChange] = []
    public var expiries: [ExpiryChange] = []
    public var refused: [Refused] = []

    /// Whether the rebuild changes nothing.
    public var isEmpty: Bool { segments.isEmpty && levels.isEmpty && balances.isEmpty && expiries.isEmpty && refused.isEmpty }

    /// The bonuses expired as things stand and under the rebuild (summed over the clients
    /// whose balances change), and how many of those clients lose bonuses to expiry.
    public var expiredBefore: Int64 { balances.reduce(0) { $0 + $1.before.expired } }
    public var expiredAfter: Int64 { balances.reduce(0) { $0 + $1.after.expired } }
    public var clientsLosingMore: Int { balances.filter { $0.after.expired > $0.before.expired }.count }

    /// What will burn, by month (`2025-07`), as things stand and under the rebuild, over the
    /// clients whose schedule changes.
    public var burnsByMonth: [(month: String, before: Int64, after: Int64)] {
        var months: [String: (Int64, Int64)] = [:]
        for change in expiries {
            for b in change.before { months[String(Time.isoDate(day: b.day).prefix(7)), default: (0, 0)].0 += b.amount }
            for b in change.after { months[String(Time.isoDate(day: b.day).prefix(7)), default: (0, 0)].1 += b.amount }
        }
        return months.sorted { $0.key < $1.key }.map { ($0.key, $0.value.0, $0.value.1) }
    }

    init(events: UInt64, clients: Int, workers: Int) {
        self.events = events; self.clients = clients; self.workers = workers
    }

    mutating func merge(_ p: Rebuild.Partial) {
        commands += p.commands
        refused += p.refused
        for (name, t) in p.segments where !t.isEmpty { segments[name, default: .init()].entered += t.entered; segments[name, default: .init()].left += t.left }
        for (name, t) in p.levels where !t.isEmpty { levels[name, default: .init()].entered += t.entered; levels[name, default: .init()].left += t.left }
        balances += p.balances
        expiries += p.expiries
    }

    mutating func sort() {
        for name in segments.keys { segments[name]!.entered.sort(); segments[name]!.left.sort() }
        for name in levels.keys { levels[name]!.entered.sort(); levels[name]!.left.sort() }
        balances.sort { $0.client < $1.client }
        expiries.sort { $0.client < $1.client }
        refused.sort { $0.position < $1.position }
    }

    /// As `ledger rebuild --json` prints it (interface.md's fields first:
    /// `{"events","clients","changes":{"segments":{"NAME":{"entered","left"}},"levels":{…}},"seconds"}`;
    /// amounts in minor units, days as `YYYY-MM-DD`).
    public var contractJSON: JSONValue {
        func ids(_ list: [ClientID]) -> JSONValue { .array(list.map { .string($0.rawValue) }) }
        func transitions(_ map: [String: Transition]) -> JSONValue {
            .object(map.sorted { $0.key < $1.key }.map { ($0.key, .object([("entered", ids($0.value.entered)), ("left", ids($0.value.left))])) })
        }
        func balances(_ b: Balances) -> JSONValue {
            .object([("available", .integer(b.available)), ("pending", .integer(b.pending)), ("reserved", .integer(b.reserved)),
                     ("used", .integer(b.used)), ("expired", .integer(b.expired)), ("accrued", .integer(b.accrued)),
                     ("cancelled", .integer(b.cancelled)), ("debt", .integer(b.debt))])
        }
        func burns(_ list: [Burn]) -> JSONValue { .array(list.map { .object([("day", .string(Time.isoDate(day: $0.day))), ("amount", .integer($0.amount))]) }) }
        let changes: JSONValue = .object([
            ("segments", transitions(segments)),
            ("levels", transitions(levels)),
            ("balances", .array(self.balances.map { .object([("client", .string($0.client.rawValue)), ("before", balances($0.before)), ("after", balances($0.after))]) })),
            ("expiries", .array(expiries.map { .object([("client", .string($0.client.rawValue)), ("before", burns($0.before)), ("after", burns($0.after))]) })),
            ("burnsByMonth", .array(burnsByMonth.map { .object([("month", .string($0.month)), ("before", .integer($0.before)), ("after", .integer($0.after))]) })),
            ("refused", .array(refused.map { .object([("client", .string($0.client.rawValue)), ("position", .integer(Int64($0.position))), ("reason", .string($0.reason))]) })),
        ])
        return .object([("events", .integer(Int64(events))), ("clients", .integer(Int64(clients))), ("changes", changes),
                        ("seconds", .number(seconds)), ("commands", .integer(Int64(commands))), ("workers", .integer(Int64(workers))),
                        ("eventsPerSecond", .number(eventsPerSecond.rounded()))])
    }
}
