import LedgerDomain

/// The client card of domain.md §5: a copy, safe to keep.
public struct ClientCard: Sendable, Equatable, Codable {
    public struct Receipt: Sendable, Equatable, Codable {
        public var purchase: String
        public var at: Micros
        public var paid: Int64
        public var bonusesSpent: Int64
        public var bonusesAccrued: Int64
        public var returned: Int64
    }

    public var id: String
    public var displayName: String
    public var name: String?
    public var phone: String?
    public var email: String?
    public var gender: Gender?
    public var birthday: Int64?
    public var cards: [String]
    public var status: ParticipationStatus
    public var deleted: Bool
    public var registeredAt: Micros
    public var level: String?
    public var levelManual: Bool
    public var balances: Balances
    public var stats: ClientStats
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
        id = c.id
        displayName = c.displayName
        name = c.name
        phone = c.phone
        email = c.email
        gender = c.gender
        birthday = c.birthday
        cards = c.cards
        status = c.shownStatus
        deleted = c.deleted
        registeredAt = c.registeredAt
        level = c.level
        levelManual = c.levelManual
        balances = c.balances
        stats = c.stats
        segments = c.segments.sorted()
        wallet = c.walletPlatforms
        messengers = c.messengers.map { Messenger(channel: $0.0, subscribed: $0.1.subscribed, received: $0.1.received, lastContactAt: $0.1.lastContactAt) }
        nps = c.nps.map { Rating(at: $0.at, score: $0.score, comment: $0.comment) }
        notes = c.notes.map { Note(at: $0.at, text: $0.text) }
        openLots = c.lots.filter { $0.remaining > 0 && $0.phase != .expired }.sorted { $0.expiresAt < $1.expiresAt }
        if let first = openLots.first(where: { $0.phase == .active && $0.free > 0 }) {
            let amount = openLots.filter { $0.phase == .active && $0.expiresAt == first.expiresAt }.reduce(0) { $0 + $1.free }
            nextExpiry = UpcomingExpiry(at: first.expiresAt, amount: amount)
        }
        var receipts: [Receipt] = []
        for index in c.purchases {
            let p = state.purchaseState(index)
            receipts.append(Receipt(purchase: state.purchaseIDs.key(index), at: p.at, paid: p.paid, bonusesSpent: state.bonusesSpent(of: index), bonusesAccrued: p.accrued, returned: state.returnTotals[index]?.returnedPaid ?? 0))
        }
        self.receipts = receipts.sorted { $0.at != $1.at ? $0.at < $1.at : $0.purchase < $1.purchase }
        eventCount = c.eventCount
    }
}

extension ClientCard {
    /// A messenger channel: whether the client is subscribed, what it delivered, when last.
    public struct Messenger: Sendable, Equatable, Codable {
        public var channel: Channel
        public var subscribed: Bool
        public var received: Int64
        public var lastContactAt: Micros?
    }

    /// An NPS rating: 0–10 and the comment given with it.
    public struct Rating: Sendable, Equatable, Codable {
        public var at: Micros
        public var score: Int64
        public var comment: String?
    }

    /// An operator's note.
    public struct Note: Sendable, Equatable, Codable {
        public var at: Micros
        public var text: String
    }

    /// The next expiry date and what burns then.
    public struct UpcomingExpiry: Sendable, Equatable, Codable {
        public var at: Micros
        public var amount: Int64
    }
}
