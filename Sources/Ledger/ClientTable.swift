import LedgerDomain

/// The client list of the back office's Excel export (seeds 001): one row a client (deleted
/// clients are not listed), in the order clients registered, with the profile, the balances,
/// the level, the purchase figures and the segments. All clients, a segment's members, the
/// clients some filters select, or both (AND). `LedgerExport` writes it as CSV or as an xlsx
/// workbook; the values are typed, so that a workbook's numbers and dates stay numbers and
/// dates.
public struct ClientTable: Sendable {
    /// One cell's value.
    public enum Cell: Sendable, Equatable {
        case text(String)
        case integer(Int64)
        /// An amount in hundredths (money in kopecks, bonuses in hundredths): 1234 is 12.34.
        case hundredths(Int64)
        /// A day (days since 1970-01-01).
        case day(Int64)
        /// A moment (µs since 1970, UTC).
        case time(Micros)
        case empty
    }

    /// A column: its stable key and its title in each language.
    public struct Column: Sendable, Equatable {
        public let key: String
        public let russian: String
        public let english: String
        public func title(_ language: Language) -> String { language == .russian ? russian : english }
    }

    /// The columns, in order (the DocC article *Export* lists them).
    public static let columns: [Column] = [
        Column(key: "id", russian: "ID клиента", english: "Client ID"),
        Column(key: "name", russian: "Имя", english: "Name"),
        Column(key: "phone", russian: "Телефон", english: "Phone"),
        Column(key: "email", russian: "Email", english: "Email"),
        Column(key: "cards", russian: "Карты", english: "Cards"),
        Column(key: "gender", russian: "Пол", english: "Gender"),
        Column(key: "birthday", russian: "Дата рождения", english: "Birthday"),
        Column(key: "status", russian: "Статус участия", english: "Status"),
        Column(key: "registeredAt", russian: "Дата регистрации", english: "Registered at"),
        Column(key: "joinPlace", russian: "Место регистрации", english: "Join place"),
        Column(key: "addedBy", russian: "Кто добавил", english: "Added by"),
        Column(key: "level", russian: "Уровень", english: "Level"),
        Column(key: "bonusesAvailable", russian: "Бонусов на счету", english: "Bonuses available"),
        Column(key: "bonusesPending", russian: "Подтверждается", english: "Bonuses pending"),
        Column(key: "bonusesReserved", russian: "В резерве", english: "Bonuses reserved"),
        Column(key: "bonusesUsed", russian: "Использовано", english: "Bonuses used"),
        Column(key: "bonusesExpired", russian: "Сгорело", english: "Bonuses expired"),
        Column(key: "bonusesAccrued", russian: "Начислено всего", english: "Bonuses accrued"),
        Column(key: "debt", russian: "Долг", english: "Debt"),
        Column(key: "purchaseCount", russian: "Покупок", english: "Purchases"),
        Column(key: "purchaseSum", russian: "Сумма покупок", english: "Purchase sum"),
        Column(key: "returnCount", russian: "Возвратов", english: "Returns"),
        Column(key: "returnSum", russian: "Сумма возвратов", english: "Return sum"),
        Column(key: "averageCheck", russian: "Средний чек", english: "Average check"),
        Column(key: "maxCheck", russian: "Максимальный чек", english: "Maximum check"),
        Column(key: "lastPurchaseAt", russian: "Последняя покупка", english: "Last purchase"),
        Column(key: "wallet", russian: "Карта Wallet", english: "Wallet card"),
        Column(key: "segments", russian: "Сегменты", english: "Segments"),
    ]

    public let language: Language
    /// The moment the list stands at (the ledger's latest event or advance).
    public let asOf: Timestamp
    /// How many rows (clients) it has.
    public var count: Int { clients.count }

    let state: LedgerState
    let clients: [Int32]
    /// For each client number, the indexes in `segmentNames` of its segments.
    let segmentsOf: [Int32: [Int]]
    let segmentNames: [String]

    /// The rows, one client at a time, cells in ``columns`` order.
    public func forEachRow(_ body: ([Cell]) throws -> Void) rethrows {
        var cells: [Cell] = []
        cells.reserveCapacity(Self.columns.count)
        for client in clients {
            cells.removeAll(keepingCapacity: true)
            row(Int(client), into: &cells)
            try body(cells)
        }
    }

    private func row(_ i: Int, into cells: inout [Cell]) {
        let record = state.records[i]
        let profile = state.profile(i)
        let b = record.balances, s = record.stats
        func text(_ t: String?) -> Cell { t.map(Cell.text) ?? .empty }
        func list(_ l: [String]) -> Cell { l.isEmpty ? .empty : .text(l.joined(separator: ", ")) }
        let russian = language == .russian
        cells.append(.text(state.clientID(i)))
        cells.append(text(profile.name))
        cells.append(text(profile.phone))
        cells.append(text(profile.email))
        cells.append(list(profile.cards))
        cells.append(record.gender.map { g in .text(russian ? (g == .female ? "женский" : "мужской") : g.rawValue) } ?? .empty)
        cells.append(record.birthday.map(Cell.day) ?? .empty)
        let status = record.blocked ? ParticipationStatus.blocked : record.status
        cells.append(.text(russian ? Self.russian(status) : status.rawValue))
        cells.append(.time(record.registeredAt))
        cells.append(text(profile.place))
        cells.append(text(profile.addedBy))
        cells.append(text(state.level(i)))
        for amount in [b.available, b.pending, b.reserved, b.used, b.expired, b.accrued, b.debt] { cells.append(.hundredths(amount)) }
        cells.append(.integer(s.purchaseCount))
        cells.append(.hundredths(s.purchaseSum))
        cells.append(.integer(s.returnCount))
        cells.append(.hundredths(s.returnSum))
        cells.append(.hundredths(s.averageCheck))
        cells.append(.hundredths(s.maxCheck))
        cells.append(s.lastPurchaseAt.map(Cell.time) ?? .empty)
        cells.append(list(WalletPlatform.allCases.enumerated().filter { record.walletBits & (1 << $0.offset) != 0 }.map(\.element.rawValue)))
        cells.append(list((segmentsOf[Int32(i)] ?? []).map { segmentNames[$0] }))
    }

    static func russian(_ status: ParticipationStatus) -> String {
        switch status {
        case .participant: "участник"
        case .subscriber: "подписчик"
        case .blocked: "заблокирован"
        }
    }

    /// The table of `state` as of `asOf`: its clients not deleted, narrowed to segment
    /// `segment`'s members and to those `filters` select when given. Each client's segments
    /// are the defined segments' members (recorded by dynamic membership, as the card shows
    /// them) and the assigned ones; a defined segment whose filters cannot be evaluated
    /// refuses the export, naming it (never an empty column).
    static func make(_ state: LedgerState, asOf: Micros, segment: String?, filters: [SegmentFilter]?,
                     language: Language) throws(SegmentError) -> ClientTable {
        var chosen: [Int32]? = nil
        if let segment {
            let members = try SegmentQuery.members(segment, state: state, asOf: asOf)
            chosen = members.clients.compactMap { state.clientIndex($0.rawValue) }.sorted()
        }
        if let filters {
            let selected = try SegmentQuery.preview(filters, state: state, asOf: asOf).clients.compactMap { state.clientIndex($0.rawValue) }
            chosen = chosen.map { Array(Set($0).intersection(selected)).sorted() } ?? selected.sorted()
        }
        let clients = (chosen ?? (0..<Int32(state.records.count)).map { $0 }).filter { !state.records[Int($0)].deleted }

        var names = Set(state.segmentDefinitions.keys)
        var assigned: [String: [Int32]] = [:]
        for name in state.segmentNames where state.segmentDefinitions[name] == nil {
            if let members = state.members(ofSegment: name), !members.isEmpty {
                assigned[name] = members.compactMap(state.clientIndex)
                names.insert(name)
            }
        }
        let ordered = names.sorted()
        var segmentsOf: [Int32: [Int]] = [:]
        for (k, name) in ordered.enumerated() {
            var members = assigned[name] ?? []
            if assigned[name] == nil {
                // A kept segment: its recorded members, as the card shows them; another
                // defined segment: evaluated (or refused, naming the field).
                members = state.isKeptUpToDate(name)
                    ? (state.members(ofSegment: name) ?? []).compactMap(state.clientIndex)
                    : try SegmentQuery.members(name, state: state, asOf: asOf).clients.compactMap { state.clientIndex($0.rawValue) }
            }
            for client in members { segmentsOf[client, default: []].append(k) }
        }
        return ClientTable(language: language, asOf: Timestamp(microsecondsSince1970: asOf), state: state, clients: clients,
                           segmentsOf: segmentsOf, segmentNames: ordered)
    }
}

extension LedgerView {
    /// The client list as the view stands (as of its latest event or advance): all clients, a
    /// segment's members, the clients `filters` select, or both.
    public func clientTable(segment: String? = nil, filters: [SegmentFilter]? = nil, language: Language = .russian) throws(SegmentError) -> ClientTable {
        try ClientTable.make(state, asOf: SegmentQuery.now(state), segment: segment, filters: filters, language: language)
    }
}

extension Ledger {
    /// The same from the running ledger: the state is copied under its lock (a copy of
    /// references, the chunks shared until the writer changes them), and the rows are made
    /// from the copy, so submits go on while they are written.
    public func clientTable(segment: String? = nil, filters: [SegmentFilter]? = nil, language: Language = .russian) throws(SegmentError) -> ClientTable {
        let state: LedgerState = read { copy $0 }
        return try ClientTable.make(state, asOf: SegmentQuery.now(state), segment: segment, filters: filters, language: language)
    }
}
