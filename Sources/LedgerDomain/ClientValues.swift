/// A lot: what one accrual put on a client's account, and what is left of it.
public struct Lot: Sendable, Equatable, Codable {
    public enum Phase: UInt8, Sendable, Codable { case pending, active, expired }
    /// The position of the accrual: the lot's identity.
    public var position: UInt64
    public var amount: Int64
    /// Not yet spent, expired, cancelled or paid to a debt (includes `reserved`).
    public var remaining: Int64
    /// Held by orders not yet closed.
    public var reserved: Int64
    /// Written off or captured from this lot.
    public var spent: Int64 = 0
    public var activatesAt: Micros
    public var expiresAt: Micros
    public var phase: Phase
    public var reason: AccrualReason
    public var corrected: Bool
    /// The next older and newer lots of the same client in the pool (see ``LotPool``); -1 in a copy.
    public internal(set) var next: Int32 = -1
    public internal(set) var previous: Int32 = -1
    /// What can be spent now: active, not reserved.
    public var free: Int64 { phase == .active ? remaining - reserved : 0 }
}

/// A client's balances in bonus minor units (1 bonus = 100). The ledger keeps
/// `accrued = available + pending + reserved + used + expired + cancelled` at every step;
/// `available` goes below zero only when a return or correction under the `unlimited` policy
/// leaves a debt.
public struct Balances: Sendable, Equatable, Codable {
    public var available: Int64 = 0
    public var pending: Int64 = 0
    public var reserved: Int64 = 0
    public var used: Int64 = 0
    public var expired: Int64 = 0
    public var accrued: Int64 = 0
    /// Taken back by returns and corrections (debt included).
    public var cancelled: Int64 = 0
    /// Outstanding debt (already counted inside `available`).
    public var debt: Int64 = 0
    public init() {}

    /// Adds `other` (`sign` 1) or takes it away (`sign` -1), field by field.
    mutating func add(_ other: Balances, sign: Int64) {
        available += sign * other.available
        pending += sign * other.pending
        reserved += sign * other.reserved
        used += sign * other.used
        expired += sign * other.expired
        accrued += sign * other.accrued
        cancelled += sign * other.cancelled
        debt += sign * other.debt
    }
}

/// Figures of the whole ledger, kept up to date as each event applies, so that reading them
/// (``LedgerState/totals``) costs the same at a million clients as at ten: a reader of a running
/// ledger copies them under the writer's lock instead of walking every client.
public struct Totals: Sendable, Equatable {
    /// Clients not deleted, and how many of them are blocked.
    public var clients = 0
    public var blockedClients = 0
    public var deletedClients = 0
    /// The sum of the balances of the clients not deleted.
    public var balances = Balances()
    /// Orders neither closed nor cancelled.
    public var openOrders = 0
    public init() {}
}

public struct ClientStats: Sendable, Equatable, Codable {
    /// Paid money, kopecks.
    public var purchaseSum: Int64 = 0
    public var returnSum: Int64 = 0
    // Counts kept in 32 bits (8 bytes a client fewer); they saturate rather than wrap.
    private var purchases: Int32 = 0
    private var returns: Int32 = 0
    public var purchaseCount: Int64 {
        get { Int64(purchases) }
        set { purchases = Int32(clamping: newValue) }
    }
    public var returnCount: Int64 {
        get { Int64(returns) }
        set { returns = Int32(clamping: newValue) }
    }
    public var maxCheck: Int64 = 0
    // Dates stored without optionals (Int64.min: none): 16 bytes a client fewer.
    private var firstPurchase: Micros = Int64.min
    private var lastPurchase: Micros = Int64.min
    public var firstPurchaseAt: Micros? {
        get { firstPurchase == Int64.min ? nil : firstPurchase }
        set { firstPurchase = newValue ?? Int64.min }
    }
    public var lastPurchaseAt: Micros? {
        get { lastPurchase == Int64.min ? nil : lastPurchase }
        set { lastPurchase = newValue ?? Int64.min }
    }
    public var averageCheck: Int64 { purchaseCount == 0 ? 0 : purchaseSum / purchaseCount }
}

public struct MessengerState: Sendable, Equatable {
    private var lastContact: Micros = Int64.min
    private var receivedCount: Int32 = 0
    public var subscribed: Bool = false
    /// Messages delivered on the channel.
    public var received: Int64 {
        get { Int64(receivedCount) }
        set { receivedCount = Int32(clamping: newValue) }
    }
    public var lastContactAt: Micros? {
        get { lastContact == Int64.min ? nil : lastContact }
        set { lastContact = newValue ?? Int64.min }
    }
    public init() {}
}

/// The state of each of the five channels, inline and packed (64 bytes): last contacts,
/// delivered counts, and a bit each for "used" and "subscribed".
public struct ChannelStates: Sendable, Equatable {
    var lastContacts: (Int64, Int64, Int64, Int64, Int64) = (.min, .min, .min, .min, .min)
    var receivedCounts: (Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0)
    var used: UInt8 = 0
    var subscribed: UInt8 = 0

    public static func == (a: ChannelStates, b: ChannelStates) -> Bool {
        a.used == b.used && (0..<5).allSatisfy { a[$0] == b[$0] }
    }

    /// The state of channel `i`, nil when the client never had anything on it.
    public subscript(i: Int) -> MessengerState? {
        guard used & (1 << i) != 0 else { return nil }
        var state = MessengerState()
        state.subscribed = subscribed & (1 << i) != 0
        state.received = Int64(withUnsafeBytes(of: receivedCounts) { $0.load(fromByteOffset: i * 4, as: Int32.self) })
        let last = withUnsafeBytes(of: lastContacts) { $0.load(fromByteOffset: i * 8, as: Int64.self) }
        state.lastContactAt = last == .min ? nil : last
        return state
    }

    mutating func update(_ channel: Channel, _ body: (inout MessengerState) -> Void) {
        let i = Channel.allCases.firstIndex(of: channel)!
        var state = self[i] ?? MessengerState()
        body(&state)
        used |= 1 << i
        if state.subscribed { subscribed |= 1 << i } else { subscribed &= ~(1 << i) }
        withUnsafeMutableBytes(of: &receivedCounts) { $0.storeBytes(of: Int32(clamping: state.received), toByteOffset: i * 4, as: Int32.self) }
        withUnsafeMutableBytes(of: &lastContacts) { $0.storeBytes(of: state.lastContactAt ?? .min, toByteOffset: i * 8, as: Int64.self) }
    }
}

/// Everything the ledger knows of one client, put together from the record and the parts kept
/// beside it (see ``ClientRecord``): a copy for cards, reports and tests.
public struct ClientState: Sendable {
    public var id: String
    public var name: String?
    public var phone: String?
    public var email: String?
    public var gender: Gender?
    public var birthday: Int64?
    public var place: String?
    public var addedBy: String?
    public var cards: [String]
    public var status: ParticipationStatus
    public var blocked: Bool
    public var deleted: Bool
    public var registeredAt: Micros
    public var level: String?
    public var levelManual: Bool
    /// The lots still open, in position order (closed ones leave memory; the log keeps them).
    public var lots: [Lot]
    public var balances: Balances
    public var stats: ClientStats
    /// Wallet cards installed, one bit a platform (see ``walletPlatforms``).
    public var walletBits: UInt8
    public var channels: ChannelStates
    public var nps: [(at: Micros, score: Int64, comment: String?)]
    public var notes: [(at: Micros, text: String)]
    public var segments: Set<String>
    /// The client's purchases, in order (indexes into ``LedgerState/purchaseStates``).
    public var purchases: [Int32]
    /// The last year whose birthday bonus was given or refused.
    public var lastBirthdayYear: Int64
    public var eventCount: Int64
    public var lastEventAt: Micros

    public var walletPlatforms: [WalletPlatform] { WalletPlatform.allCases.enumerated().filter { walletBits & (1 << $0.offset) != 0 }.map(\.element) }
    public var messengers: [(Channel, MessengerState)] {
        Channel.allCases.enumerated().compactMap { i, channel in channels[i].map { (channel, $0) } }
    }

    /// The journal's display name: the name; else the phone; else `Без имени`.
    public var displayName: String { Self.displayName(name: name, phone: phone) }
    public static func displayName(name: String?, phone: String?) -> String {
        if let name, !name.isEmpty { return name }
        if let phone { return Phone.display(phone) }
        return ClientState.noName
    }
    public static let noName = "Без имени"
    public static let noNameEnglish = "No name"

    /// The status the card shows: blocked overrides participant or subscriber.
    public var shownStatus: ParticipationStatus { blocked ? .blocked : status }
}
