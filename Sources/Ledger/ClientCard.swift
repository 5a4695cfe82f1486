import LedgerDomain

/// The client card of domain.md §5: a copy, safe to keep. Amounts are ``Bonus`` or ``Money``,
/// times ``Timestamp``; `Codable` with these Swift names (``contractJSON`` is the contract's
/// form, as `ledger client --json` prints it).
public struct ClientCard: Sendable, Equatable, Codable {
    public var id: ClientID
    /// The name, else the phone, else `Без имени`.
    public var displayName: String
    public var name: String?
    /// Normalised: digits with the country code (`79161234567`).
    public var phone: String?
    public var email: String?
    public var gender: Gender?
    /// Midnight (UTC) of the birthday.
    public var birthday: Timestamp?
    public var cards: [String]
    public var status: ParticipationStatus
    public var deleted: Bool
    public var registeredAt: Timestamp
    public var level: String?
    /// Whether the level was set by hand (`level.set`) rather than by the rules.
    public var levelManual: Bool
    public var balances: Balances
    public var stats: Stats
    public var segments: [String]
    public var wallet: [WalletPlatform]
    public var messengers: [Messenger]
    public var nps: [Rating]
    public var notes: [Note]
    /// Lots with something left or pending, by expiry: what the bonus balance is made of.
    public var openLots: [Lot]
    /// The next expiry date and what burns then.
    public var nextExpiry: UpcomingExpiry?
    public var receipts: [Receipt]
    /// Events of this client in the log.
    public var eventCount: Int64

    static func find(_ state: borrowing LedgerState, id: String) -> ClientCard? {
        state.clientIndex(id).map { ClientCard(state, Int($0)) }
    }

    static func find(_ state: borrowing LedgerState, phone: String) -> ClientCard? {
        guard let normalized = Phone.normalize(phone) else { return nil }
        return state.holder(ofPhone: normalized).map { ClientCard(state, Int($0)) }
    }

    static func find(_ state: borrowing LedgerState, card: String) -> ClientCard? {
        state.holder(ofCard: card).map { ClientCard(state, Int($0)) }
    }

    init(_ state: borrowing LedgerState, _ i: Int) {
        let c = state.clients[i]
        id = ClientID(c.id)
        displayName = c.displayName
        name = c.name
        phone = c.phone
        email = c.email
        gender = c.gender
        birthday = c.birthday.map { Timestamp(microsecondsSince1970: $0 * Time.microsPerDay) }
        cards = c.cards
        status = c.shownStatus
        deleted = c.deleted
        registeredAt = Timestamp(microsecondsSince1970: c.registeredAt)
        level = c.level
        levelManual = c.levelManual
        balances = Balances(c.balances)
        stats = Stats(c.stats)
        segments = c.segments.sorted()
        wallet = c.walletPlatforms
        messengers = c.messengers.map { Messenger(channel: $0.0, subscribed: $0.1.subscribed, received: $0.1.received,
                                                  lastContactAt: $0.1.lastContactAt.map(Timestamp.init(microsecondsSince1970:))) }
        nps = c.nps.map { Rating(at: Timestamp(microsecondsSince1970: $0.at), score: $0.score, comment: $0.comment) }
        notes = c.notes.map { Note(at: Timestamp(microsecondsSince1970: $0.at), text: $0.text) }
        let open = c.lots.filter { $0.remaining > 0 && $0.phase != .expired }.sorted { $0.expiresAt < $1.expiresAt }
        openLots = open.map(Lot.init)
        if let first = open.first(where: { $0.phase == .active && $0.free > 0 }) {
            let amount = open.filter { $0.phase == .active && $0.expiresAt == first.expiresAt }.reduce(0) { $0 + $1.free }
            nextExpiry = UpcomingExpiry(at: Timestamp(microsecondsSince1970: first.expiresAt), amount: Bonus(minorUnits: amount))
        }
        var receipts: [Receipt] = []
        for index in c.purchases {
            let p = state.purchaseState(index)
            receipts.append(Receipt(purchase: state.purchaseIDs.key(index), at: Timestamp(microsecondsSince1970: p.at), paid: Money(minorUnits: p.paid),
                                    bonusesSpent: Bonus(minorUnits: state.bonusesSpent(of: index)), bonusesAccrued: Bonus(minorUnits: p.accrued),
                                    returned: Money(minorUnits: state.returnTotals[index]?.returnedPaid ?? 0)))
        }
        self.receipts = receipts.sorted { $0.at != $1.at ? $0.at < $1.at : $0.purchase < $1.purchase }
        eventCount = c.eventCount
    }
}

extension ClientCard {
    /// A client's bonuses. `accrued = available + pending + reserved + used + expired +
    /// cancelled` always; `available` is below zero only by a `debt` (a return or correction
    /// under the `unlimited` policy), which new bonuses pay off first.
    public struct Balances: Sendable, Equatable, Codable {
        public var available: Bonus
        /// Accrued, not active yet.
        public var pending: Bonus
        /// Held by open orders.
        public var reserved: Bonus
        public var used: Bonus
        public var expired: Bonus
        /// Everything ever accrued.
        public var accrued: Bonus
        /// Taken back by returns and corrections (debt included).
        public var cancelled: Bonus
        public var debt: Bonus

        init(_ b: LedgerDomain.Balances) {
            available = Bonus(minorUnits: b.available); pending = Bonus(minorUnits: b.pending)
            reserved = Bonus(minorUnits: b.reserved); used = Bonus(minorUnits: b.used)
            expired = Bonus(minorUnits: b.expired); accrued = Bonus(minorUnits: b.accrued)
            cancelled = Bonus(minorUnits: b.cancelled); debt = Bonus(minorUnits: b.debt)
        }
    }

    /// The client's purchases: counts, money paid and returned, the checks.
    public struct Stats: Sendable, Equatable, Codable {
        public var purchaseCount: Int64
        public var purchaseSum: Money
        public var returnCount: Int64
        public var returnSum: Money
        public var averageCheck: Money
        public var maxCheck: Money
        public var firstPurchaseAt: Timestamp?
        public var lastPurchaseAt: Timestamp?

        init(_ s: ClientStats) {
            purchaseCount = s.purchaseCount; purchaseSum = Money(minorUnits: s.purchaseSum)
            returnCount = s.returnCount; returnSum = Money(minorUnits: s.returnSum)
            averageCheck = Money(minorUnits: s.averageCheck); maxCheck = Money(minorUnits: s.maxCheck)
            firstPurchaseAt = s.firstPurchaseAt.map(Timestamp.init(microsecondsSince1970:))
            lastPurchaseAt = s.lastPurchaseAt.map(Timestamp.init(microsecondsSince1970:))
        }
    }

    /// A lot: the bonuses of one accrual, named by the accrual's position in the log.
    public struct Lot: Sendable, Equatable, Codable {
        public enum State: String, Sendable, Codable { case pending, active }
        public var accrual: UInt64
        public var reason: AccrualReason
        public var amount: Bonus
        /// Not yet spent, expired or taken back (what orders hold included).
        public var remaining: Bonus
        /// Held by open orders.
        public var reserved: Bonus
        public var state: State
        public var activatesAt: Timestamp
        public var expiresAt: Timestamp

        init(_ lot: LedgerDomain.Lot) {
            accrual = lot.position; reason = lot.reason; amount = Bonus(minorUnits: lot.amount)
            remaining = Bonus(minorUnits: lot.remaining); reserved = Bonus(minorUnits: lot.reserved)
            state = lot.phase == .pending ? .pending : .active
            activatesAt = Timestamp(microsecondsSince1970: lot.activatesAt); expiresAt = Timestamp(microsecondsSince1970: lot.expiresAt)
        }
    }

    /// A receipt as the card shows it.
    public struct Receipt: Sendable, Equatable, Codable {
        public var purchase: String
        public var at: Timestamp
        public var paid: Money
        public var bonusesSpent: Bonus
        public var bonusesAccrued: Bonus
        /// Money given back by returns.
        public var returned: Money
    }

    /// A messenger channel: whether the client is subscribed, what it delivered, when last.
    public struct Messenger: Sendable, Equatable, Codable {
        public var channel: Channel
        public var subscribed: Bool
        public var received: Int64
        public var lastContactAt: Timestamp?
    }

    /// An NPS rating: 0–10 and the comment given with it.
    public struct Rating: Sendable, Equatable, Codable {
        public var at: Timestamp
        public var score: Int64
        public var comment: String?
    }

    /// An operator's note.
    public struct Note: Sendable, Equatable, Codable {
        public var at: Timestamp
        public var text: String
    }

    /// The next expiry date and what burns then.
    public struct UpcomingExpiry: Sendable, Equatable, Codable {
        public var at: Timestamp
        public var amount: Bonus
    }
}
