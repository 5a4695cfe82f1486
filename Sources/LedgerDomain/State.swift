/// A lot: what one accrual put on a client's account, and what is left of it.
public struct Lot: Sendable, Equatable {
    public enum Phase: UInt8, Sendable { case pending, active, expired }
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
public struct Balances: Sendable, Equatable {
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

public struct ClientStats: Sendable, Equatable {
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

/// A purchase as ``LedgerState/purchaseState(_:)`` gives it. What returns change lives in
/// ``ReturnTotals``, kept only for purchases that had a return; the bonuses a receipt spent, in
/// ``LedgerState/bonusesSpent(of:)``, kept only for receipts that spent some.
public struct PurchaseState: Sendable, Equatable {
    public var client: Int32
    /// The client's next purchase (-1: none yet).
    public var next: Int32
    public var at: Micros
    public var paid: Int64
    /// The bonuses the purchase earned (its lot's amount).
    public var accrued: Int64
    /// The purchase's own accrual (its lot), if it earned one.
    public var lot: UInt64?
}

/// A purchase as the ledger stores it: 32 bytes, for there are millions. What was paid and
/// what it earned are kept in 32 bits (up to 42 949 672,95); a purchase with more is *wide*:
/// both are kept beside it, in full (``LedgerState/widePurchases``).
struct StoredPurchase: Sendable {
    var client: Int32
    var next: Int32 = -1
    var at: Micros
    /// The position of the purchase's accrual (below 2⁴⁸; all ones: none), and bit 63: wide.
    var word: UInt64 = StoredPurchase.noLot
    var paid: UInt32 = 0
    var accrued: UInt32 = 0

    static let noLot: UInt64 = (1 << 48) - 1
    static let wideBit: UInt64 = 1 << 63

    var isWide: Bool { word & Self.wideBit != 0 }
    var lot: UInt64? { word & Self.noLot == Self.noLot ? nil : word & Self.noLot }
}

/// What the returns of one purchase have done so far.
public struct ReturnTotals: Sendable, Equatable {
    /// Money given back, kopecks.
    public var returnedPaid: Int64 = 0
    /// Bonuses intended to be taken back so far (taken + debt + forgiven).
    public var clawedBack: Int64 = 0
    /// Spent bonuses given back so far.
    public var refunded: Int64 = 0
    public init() {}
}

/// A return as its id names it: the purchase (its index in the state) and the return id.
public struct ReturnKey: Hashable, Sendable {
    public var purchase: Int32
    public var returnID: String
    public init(_ purchase: Int32, _ returnID: String) { self.purchase = purchase; self.returnID = returnID }
}

public struct OrderState: Sendable {
    public enum Phase: UInt8, Sendable { case open, closed, cancelled }
    public var client: Int32
    public var phase: Phase = .open
    public var reserved: Int64 = 0
    /// What each lot holds for this order.
    public var lots: [LotTake] = []
}

/// What an idempotency key answers: the positions of the original command's events, or the
/// refusal recorded for it.
public enum IdempotentAnswer: Sendable, Equatable {
    case accepted(ClosedRange<UInt64>)
    case refused(code: String, message: String)
}

/// Due activations and expiries, by time and then by lot (a binary min-heap): a total order,
/// so the advance step appends the same events in the same order whether the heap was built
/// live or by a rebuild. It holds only what falls due before its `horizon`: every open lot due
/// before it is in the heap, none due later need be (most lots expire a year out; keeping them
/// all would cost 24 bytes a lot). The advance step moves the horizon on, adding the lots that
/// fall due in between, before it pops past it. Entries may be stale (a lot since spent or
/// activated); whoever pops one checks the lot.
struct Schedule: Sendable {
    /// 16 bytes: a lot is named by the low 32 bits of its position, which with its client and
    /// its due time find it (``LedgerState/scheduledLot(_:)``).
    struct Entry: Sendable {
        var due: Micros
        var client: Int32
        var lot: UInt32

        init(due: Micros, client: Int32, lot position: UInt64) {
            self.due = due; self.client = client; lot = UInt32(truncatingIfNeeded: position)
        }

        @inline(__always)
        func precedes(_ other: Entry) -> Bool { due != other.due ? due < other.due : lot < other.lot }
    }
    private(set) var entries: [Entry] = []
    /// Every open lot due before this is in the heap.
    var horizon: Micros = .min
    /// How far past the time it reaches the advance step moves the horizon.
    static let horizonSpan: Micros = 8 * Time.microsPerDay

    /// The horizon for an advance step that reaches `time`.
    static func horizon(after time: Micros) -> Micros {
        let (horizon, overflow) = time.addingReportingOverflow(horizonSpan)
        return overflow ? .max : horizon
    }

    var count: Int { entries.count }
    var next: Entry? { entries.first }

    mutating func push(_ entry: Entry) {
        entries.append(entry)
        var i = entries.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !entries[i].precedes(entries[parent]) { break }
            entries.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
        return top
    }

    /// Moves entry `i` down until neither child precedes it.
    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var smallest = i
            if l < entries.count && entries[l].precedes(entries[smallest]) { smallest = l }
            if r < entries.count && entries[r].precedes(entries[smallest]) { smallest = r }
            if smallest == i { return }
            entries.swapAt(i, smallest)
            i = smallest
        }
    }

    mutating func removeAll() { entries.removeAll() }
    /// Adds entries in any order. When the heap is empty it takes `more`'s buffer and orders it
    /// in place (Floyd's bottom-up heap construction: no second buffer, as a sort would take),
    /// so that a writer's open holds the entries once.
    mutating func add(_ more: inout [Entry]) {
        if entries.isEmpty {
            swap(&entries, &more)
            for i in stride(from: entries.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        } else {
            for entry in more { push(entry) }
        }
    }
}

/// The whole state of a ledger: every projection the engine keeps, rebuilt from the log by
/// ``apply(_:)`` alone. Nothing else changes it, so replaying the log gives the live state.
public struct LedgerState: Sendable {
    /// Every client's fixed-size record, by client number.
    public internal(set) var records = ChunkedArray<ClientRecord>()
    /// The clients' profile texts.
    public internal(set) var texts = TextArena()
    /// Every client's open lots.
    public internal(set) var lotPool = LotPool()
    /// Level names as the clients' records refer to them (interned: a record keeps one byte).
    public internal(set) var levelNames: [String] = []
    /// The rarer collections, only for the clients that have them.
    /// Segment names, interned; a client's membership is a (client, name code) pair in one set.
    var segmentNames: [String] = []
    var segmentCodes: [String: UInt32] = [:]
    var segmentMembers = Set<UInt64>()
    /// NPS ratings (the score, the comment) and notes, their texts in ``texts``.
    var clientNPS = ClientEntries()
    var clientNotes = ClientEntries()
    /// Client ids → their index in ``clients`` (groups of 4: a submit looks its client up by id
    /// each command, and decodes at most three keys for it).
    public internal(set) var clientIDs = IdTable(groupSize: 4)
    /// Who holds each phone and each card among live clients (keys confirmed against the profiles).
    var phoneIndex = HolderIndex()
    var cardIndex = HolderIndex()
    /// Purchase ids → their index in ``purchaseStates``.
    /// Groups of 16: only a return or a card reads a purchase id back.
    public internal(set) var purchaseIDs = IdTable(groupSize: 16)
    var purchaseStates = ChunkedArray<StoredPurchase>()
    /// What wide purchases paid and earned (see ``StoredPurchase``).
    var widePurchases: [Int32: (paid: Int64, accrued: Int64)] = [:]
    /// The bonuses spent on each receipt that spent some.
    var purchaseSpent = AscendingValues()
    /// For purchases that had a return: what the returns did.
    public internal(set) var returnTotals: [Int32: ReturnTotals] = [:]
    public internal(set) var orders: [String: OrderState] = [:]
    /// The whole ledger's figures, kept as events apply (see ``Totals``).
    public internal(set) var totals = Totals()
    /// The events of each return, by purchase and return id: a return id counts once.
    public internal(set) var returns: [ReturnKey: ClosedRange<UInt64>] = [:]
    /// Idempotency keys → their answer: the first position of the command's events and how many
    /// (5 bytes a key beside its 8-byte slot), or a refusal, kept apart since refusals are few.
    /// The keys' bytes are not kept: each is in the log, in the record its answer starts at, and
    /// a lookup confirms a candidate there (see ``answer(forKey:keyAt:)``).
    public internal(set) var idempotencyKeys = KeyIndex()
    /// The bytes of the keys the log cannot give back: all of them while ``keepsKeyBytes``, else
    /// those whose events are not yet durable and the newest that are.
    var heldKeys = HeldKeys()
    /// How many keys' bytes the state holds (see ``keepsKeyBytes``).
    public var heldKeyCount: Int { heldKeys.count }
    /// True for a state alone (it has no log to read keys back from). A ``Ledger`` sets it false:
    /// a rebuild then keeps no key's bytes, and a submit holds them only until its events are
    /// durable (``releaseKeys(below:)``).
    public var keepsKeyBytes = true
    var answerFirst = AscendingPositions()
    /// Events of each answer, saturating at 255; the rare longer ones are in `longAnswers`.
    var answerCount: [UInt8] = []
    var longAnswers: [Int32: UInt32] = [:]
    var refusals: [Int32: (code: String, message: String)] = [:]
    public internal(set) var rules = Rules()
    public internal(set) var segmentDefinitions: [String: SegmentDefinition] = [:]
    /// The position after the last applied event, and that event's time.
    public internal(set) var nextPosition: UInt64 = 0
    public internal(set) var lastEventAt: Micros = Int64.min
    /// The time the last advance step reached.
    public internal(set) var advancedTo: Micros = Int64.min
    /// Events by type code (codes are below 128).
    public internal(set) var typeCounts = [Int64](repeating: 0, count: 128)
    /// Events whose type or fields this reader did not know (skipped, and counted here).
    public internal(set) var unknownTypeEvents: Int64 = 0
    public internal(set) var unknownFields: Int64 = 0
    var schedule = Schedule()
    /// While true, `apply` leaves the caches that only decisions read (the due-time schedule,
    /// the level windows) alone; ``finishRebuild()`` builds them once, at the end of a replay.
    public var isRebuilding = false
    /// Clients by birthday (month * 32 + day), for the birthday bonus.
    var birthdays: [Int: [Int32]] = [:]
    /// The last day the birthday scan of the advance step covered. Not in the log: a new or
    /// rebuilt state scans again from 1 January of the year before its last event (not before
    /// ``birthdayBonusSince``), which changes nothing already decided, since every decision is
    /// an event (a bonus, or a refusal naming the year) that marks the client's year.
    var birthdayScanDay: Int64 = Int64.min
    /// When the birthday bonus last became positive (a rules change from none): the advance
    /// step never looks for birthdays before that day.
    var birthdayBonusSince: Micros = .min
    /// The command being applied: its idempotency key and the return it answers to.
    private var openKey: Int32?
    private var openReturn: ReturnKey?
    /// The client of the last event replayed from bytes (a lookup cache; see Replay.swift).
    var lastReplayedClient: Int32?

    public init() {}

    public func clientIndex(_ id: String) -> Int32? { clientIDs.find(id) }
    public func client(_ id: String) -> ClientState? { clientIDs.find(id).map { clientState(Int($0)) } }

    /// The clients as whole values (put together on each access; see ``ClientList``).
    public var clients: ClientList { ClientList(state: self) }

    /// Client `i` put together from its record and the parts beside it.
    public func clientState(_ i: Int) -> ClientState {
        let r = records[i]
        let p = profile(i)
        var purchases: [Int32] = []
        var k = r.firstPurchase
        while k >= 0 { purchases.append(k); k = purchaseStates[Int(k)].next }
        return ClientState(
            id: clientID(i), name: p.name, phone: p.phone, email: p.email, gender: r.gender, birthday: r.birthday,
            place: p.place, addedBy: p.addedBy, cards: cards(of: i), status: r.status, blocked: r.blocked,
            deleted: r.deleted, registeredAt: r.registeredAt, level: level(i), levelManual: r.levelManual, lots: lots(of: i),
            balances: r.balances, stats: r.stats, walletBits: r.walletBits, channels: r.channels, nps: clientNPS.list(Int32(i)).map { ($0.at, $0.value, text($0.text)) },
            notes: clientNotes.list(Int32(i)).map { ($0.at, text($0.text) ?? "") }, segments: segments(of: i), purchases: purchases,
            lastBirthdayYear: r.lastBirthdayYear == .min ? Int64.min : Int64(r.lastBirthdayYear),
            eventCount: r.eventCount, lastEventAt: r.lastEventAt)
    }

    public func clientID(_ i: Int) -> String { clientIDs.key(Int32(i)) }

    /// The segments client `i` is in.
    public func segments(of i: Int) -> Set<String> {
        guard !segmentMembers.isEmpty else { return [] }
        var names: Set<String> = []
        for (code, name) in segmentNames.enumerated() where segmentMembers.contains(Self.membership(i, UInt32(code))) { names.insert(name) }
        return names
    }

    /// Client `i`'s membership of the segment named by `code`, as ``segmentMembers`` keeps it.
    static func membership(_ i: Int, _ code: UInt32) -> UInt64 { UInt64(UInt32(i)) << 32 | UInt64(code) }

    /// A one-text entry of the text arena (an NPS comment, a note).
    func text(_ ref: TextRef) -> String? { texts.read(ref).first ?? nil }
    public func profile(_ i: Int) -> Profile { texts.profile(records[i].profile) }
    public func level(_ i: Int) -> String? { records[i].levelCode == 0 ? nil : levelNames[Int(records[i].levelCode) - 1] }
    public func cards(of i: Int) -> [String] { profile(i).cards }

    /// The live client holding a phone (normalised). (A method, not a subscript on a view of
    /// the state: such a view would copy the whole state, and retain all it holds, per lookup.)
    public func holder(ofPhone phone: String) -> Int32? {
        phoneIndex.find(phone, holds: Self.holds(records, texts, cards: false))
    }

    /// The live client holding a card.
    public func holder(ofCard card: String) -> Int32? {
        cardIndex.find(card, holds: Self.holds(records, texts, cards: true))
    }

    /// Whether client `c` holds a key, by its profile: its phone, or one of its cards.
    static func holds(_ records: ChunkedArray<ClientRecord>, _ texts: TextArena, cards: Bool) -> (Int32, String) -> Bool {
        { c, key in
            let profile = texts.profile(records[Int(c)].profile)
            return cards ? profile.cards.contains(key) : profile.phone == key
        }
    }

    private mutating func setHolder(_ key: String, _ holder: Int32, cards: Bool) {
        let holds = Self.holds(records, texts, cards: cards)
        if cards { cardIndex.set(key, to: holder, holds: holds) } else { phoneIndex.set(key, to: holder, holds: holds) }
    }
    public func displayName(_ i: Int) -> String { let p = profile(i); return ClientState.displayName(name: p.name, phone: p.phone) }
    /// Client `i`'s open lots, in position order.
    public func lots(of i: Int) -> [Lot] { lotPool.list(tail: records[i].lotTail) }
    /// The pool slot of client `i`'s lot at `position`.
    @inline(__always)
    func lotSlot(_ i: Int, _ position: UInt64) -> Int32? { lotPool.find(position, client: Int32(i), list: records[i].lotList) }

    /// The open lot a schedule entry names, if it is still due then: the entry's client's lot
    /// whose position ends in the entry's 32 bits and which is pending until the entry's time,
    /// or active until then with something free to burn. The latest position with those bits
    /// is tried first (the only one in a log of fewer than 2³² events); failing that, the
    /// client's lots are walked. Two lots of a client alike in all three (2³² events apart, due
    /// at the same microsecond) are interchangeable here: each of their entries takes one of
    /// them, and both fall due.
    func scheduledLot(_ entry: Schedule.Entry) -> Int32? {
        let i = Int(entry.client)
        func named(_ slot: Int32) -> Bool {
            let lot = lotPool[slot]
            guard UInt32(truncatingIfNeeded: lot.position) == entry.lot else { return false }
            return lot.phase == .pending ? lot.activatesAt == entry.due : lot.phase == .active && lot.expiresAt == entry.due && lot.free > 0
        }
        let high = nextPosition & ~UInt64(UInt32.max)
        let latest = high | UInt64(entry.lot)
        let guess: UInt64? = latest < nextPosition ? latest : (high == 0 ? nil : latest - (1 << 32))
        if let guess, let slot = lotSlot(i, guess), named(slot) { return slot }
        var slot = records[i].lotHead
        while slot >= 0 {
            if named(slot) { return slot }
            slot = lotPool.lots[Int(slot)].next
        }
        return nil
    }
    public func purchase(_ id: String) -> PurchaseState? { purchaseIDs.find(id).map(purchaseState) }
    /// Purchase `index` (in the order purchases were made).
    public func purchaseState(_ index: Int32) -> PurchaseState {
        let p = purchaseStates[Int(index)]
        let (paid, accrued) = p.isWide ? widePurchases[index]! : (Int64(p.paid), Int64(p.accrued))
        return PurchaseState(client: p.client, next: p.next, at: p.at, paid: paid, accrued: accrued, lot: p.lot)
    }
    /// What purchase `index` paid. (Inlined, as are ``kept(_:)``, ``window(_:at:)`` and
    /// ``inWindow(_:_:)``: called from a mutating function, a call would first copy the
    /// whole state, several hundred bytes, to pass it.)
    @inline(__always)
    func paid(_ index: Int32) -> Int64 {
        let p = purchaseStates[Int(index)]
        return p.isWide ? widePurchases[index]!.paid : Int64(p.paid)
    }
    /// Sets what purchase `index` paid and earned, wide when either needs more than 32 bits.
    private mutating func setAmounts(_ index: Int32, paid: Int64, accrued: Int64) {
        if let p = UInt32(exactly: paid), let a = UInt32(exactly: accrued) {
            purchaseStates[Int(index)].paid = p
            purchaseStates[Int(index)].accrued = a
            purchaseStates[Int(index)].word &= ~StoredPurchase.wideBit
            widePurchases[index] = nil
        } else {
            widePurchases[index] = (paid, accrued)
            purchaseStates[Int(index)].word |= StoredPurchase.wideBit
        }
    }
    public var purchaseCount: Int { purchaseStates.count }
    /// The bonuses receipt `index` spent.
    public func bonusesSpent(of index: Int32) -> Int64 { purchaseSpent[index] ?? 0 }
    /// What `key` answers, if a command already used it. A key's bytes are confirmed against
    /// the bytes the state holds, or else against the log: `keyAt` gives the idempotency key of
    /// the record at a position (a ``Ledger`` reads it from its log; it throws when it cannot).
    /// When two entries carry one key (a log another writer made), the later answers.
    public func answer(forKey key: String) -> IdempotentAnswer? {
        precondition(keepsKeyBytes, "this state does not keep its keys' bytes: ask with answer(forKey:keyAt:) and a reader of the log")
        return answer(forKey: key, keyAt: { _ in nil })
    }

    public func answer(forKey key: String, keyAt: (UInt64) throws -> [UInt8]?) rethrows -> IdempotentAnswer? {
        var copy = key
        let found: Int32? = try copy.withUTF8 { utf8 in
            let bytes = UnsafeRawBufferPointer(utf8)
            var best: Int32? = nil
            try idempotencyKeys.forEachCandidate(bytes) { index in
                if let best, answerFirst[Int(best)] > answerFirst[Int(index)] { return }
                let same: Bool
                if let held = heldKeys.matches(index, bytes) {
                    same = held
                } else if let logged = try keyAt(answerFirst[Int(index)]) {
                    same = logged.elementsEqual(bytes)
                } else {
                    same = false
                }
                if same { best = index }
            }
            return best
        }
        return found.map(answer(at:))
    }

    /// Lets go of the bytes of the keys whose answers start below `end` (the log now has them),
    /// but for the newest ``HeldKeys/recentKept``.
    public mutating func releaseKeys(below end: UInt64) {
        guard !keepsKeyBytes else { return }
        heldKeys.release(keepingLast: HeldKeys.recentKept) { answerFirst[Int($0)] < end }
    }

    private func answer(at index: Int32) -> IdempotentAnswer {
        if let refusal = refusals[index] { return .refused(code: refusal.code, message: refusal.message) }
        let first = answerFirst[Int(index)]
        let count = answerCount[Int(index)] == 255 ? UInt64(longAnswers[index] ?? 255) : UInt64(answerCount[Int(index)])
        return .accepted(first...(first + count - 1))
    }

    /// Every idempotency key with its answer (for tests and reports; not for hot paths). Keys
    /// the state does not hold are read with `keyAt` (see ``answer(forKey:keyAt:)``). When two
    /// entries carry one key, the later answers.
    public func idempotency() -> [String: IdempotentAnswer] {
        precondition(keepsKeyBytes, "this state does not keep its keys' bytes: ask with idempotency(keyAt:) and a reader of the log")
        return idempotency(keyAt: { _ in nil })
    }

    public func idempotency(keyAt: (UInt64) throws -> [UInt8]?) rethrows -> [String: IdempotentAnswer] {
        var result: [String: IdempotentAnswer] = [:]
        for index in 0..<Int32(idempotencyKeys.count) {
            guard let bytes = try heldKeys.bytes(index) ?? keyAt(answerFirst[Int(index)]) else { continue }
            result[String(decoding: bytes, as: UTF8.self)] = answer(at: index)
        }
        return result
    }

    /// Applies one event. The events must come in log order; `record.position` must be the
    /// state's `nextPosition`. Returns the number (index) of the event's client, if it has one.
    /// A record that carries a client number (of a registered client) is trusted to name its
    /// client by it; `ledger verify` checks the numbers in the log.
    @discardableResult
    public mutating func apply(_ record: EventRecord) -> Int32? {
        var index: Int32? = nil
        begin(position: record.position, at: record.at, typeCode: record.event.typeCode)
        var refusal: (String, String)? = nil
        if case .operationRefused(let r) = record.event { refusal = (r.code, r.message) }
        if var key = record.idempotencyKey {
            key.withUTF8 { noteIdempotency(position: record.position, derived: record.derived, key: UnsafeRawBufferPointer($0), refusal: refusal) }
        } else {
            noteIdempotency(position: record.position, derived: record.derived, key: nil, refusal: refusal)
        }
        if case .clientRegistered = record.event {} else if !record.client.isEmpty {
            // (A registration's client does not exist yet: `register` counts its event.)
            if let number = record.clientNumber, number >= 0, Int(number) < records.count {
                index = number
            } else {
                index = appliedClient(record.client)
            }
        }
        if let index { touch(Int(index), at: record.at) }
        switch record.event {
        case .clientRegistered(let r):
            register(record, r)
            return Int32(records.count - 1)
        case .rulesChanged(let rules):
            if rules.birthdayBonus > 0 && self.rules.birthdayBonus == 0 { birthdayBonusSince = record.at }
            let windowChanged = rules.levelWindowDays != self.rules.levelWindowDays
            self.rules = rules
            if windowChanged && !isRebuilding { recomputeWindows(at: record.at) }
        case .segmentDefined(let definition):
            segmentDefinitions[definition.name] = definition
        case .segmentDeleted(let name):
            segmentDefinitions[name] = nil
        case .system:
            break
        default:
            guard let index else { return nil }
            applyToClient(Int(index), record)
        }
        return index
    }

    @inline(__always)
    mutating func begin(position: UInt64, at: Micros, typeCode: UInt32) {
        precondition(position == nextPosition, "events must be applied in log order without a gap")
        nextPosition = position + 1
        lastEventAt = max(lastEventAt, at)
        typeCounts[Int(typeCode & 127)] += 1
    }

    /// A command's events usually share one client: compare with the last before hashing.
    private mutating func appliedClient(_ id: String) -> Int32? {
        if let last = lastReplayedClient, Int(last) < records.count, clientIDs.has(last, key: id) { return last }
        lastReplayedClient = clientIDs.find(id)
        return lastReplayedClient
    }

    @inline(__always)
    mutating func touch(_ i: Int, at: Micros) {
        records[i].eventCount += 1
        records[i].lastEventAt = at
    }

    /// Notes an event skipped because this reader does not know its type.
    public mutating func skipUnknown(position: UInt64, at: Micros) {
        precondition(position == nextPosition)
        nextPosition = position + 1
        lastEventAt = max(lastEventAt, at)
        unknownTypeEvents += 1
    }

    public mutating func noteUnknownFields(_ count: Int) { unknownFields += Int64(count) }

    mutating func noteIdempotency(position: UInt64, derived: Bool, key: UnsafeRawBufferPointer?, refusal: (String, String)?) {
        if !derived {
            openKey = nil
            openReturn = nil
            if let key {
                // The engine answers a key it knows without appending, so a key reaches here new.
                let index = idempotencyKeys.insert(key)
                answerFirst.append(position)
                answerCount.append(1)
                if keepsKeyBytes || !isRebuilding { heldKeys.hold(index, key) }
                if let refusal { refusals[index] = (refusal.0, refusal.1) }
                // A refusal is one event: nothing derived extends it.
                openKey = refusal == nil ? index : nil
            }
        } else if let key = openKey {
            let count = position - answerFirst[Int(key)] + 1
            if count < 255 { answerCount[Int(key)] = UInt8(count) } else { answerCount[Int(key)] = 255; longAnswers[key] = UInt32(count) }
        }
        if let key = openReturn, derived {
            if let first = returns[key]?.lowerBound { returns[key] = first...position }
        }
    }

    private mutating func register(_ record: EventRecord, _ r: Registration) {
        let profile = texts.append(Profile(name: r.name, phone: r.phone, email: r.email, place: r.place, addedBy: r.addedBy, cards: r.cards))
        var key = record.client
        let index = key.withUTF8 { addClient(at: record.at, id: UnsafeRawBufferPointer($0), status: r.status, gender: r.gender, birthday: r.birthday, profile: profile) }
        if let phone = r.phone { setHolder(phone, index, cards: false) }
        for card in r.cards { setHolder(card, index, cards: true) }
    }

    /// What every registration does, whichever way its fields were read: the client's record,
    /// its id, its birthday. Returns the client's number.
    private mutating func addClient(at: Micros, id: UnsafeRawBufferPointer, status: ParticipationStatus, gender: Gender?,
                                    birthday: Int64?, profile: TextRef) -> Int32 {
        let index = Int32(records.count)
        var client = ClientRecord(status: status, registeredAt: at)
        client.profile = profile
        client.setGender(gender)
        client.setBirthday(birthday)
        client.eventCount = 1
        client.lastEventAt = at
        records.append(client)
        totals.clients += 1
        let (inserted, isNew) = clientIDs.findOrInsert(id)
        precondition(isNew && inserted == index, "a client registers once")
        if let birthday { noteBirthday(index, birthday) }
        return index
    }

    /// A registration straight from its body's bytes (a rebuild): the same state as
    /// ``apply(_:)`` gives, without a String for any field.
    mutating func registerFromBytes(at: Micros, client key: UnsafeRawBufferPointer, _ r: RegistrationBytes) {
        let profile = texts.append(bytes: [r.name, r.phone, r.email, r.place, r.addedBy] + r.cards.map { Optional($0) })
        let index = addClient(at: at, id: key, status: r.status, gender: r.gender, birthday: r.birthday, profile: profile)
        let (records, texts) = (self.records, self.texts)
        if let phone = r.phone { phoneIndex.set(phone, to: index, holds: Self.holds(records, texts, cards: false)) }
        for card in r.cards { cardIndex.set(card, to: index, holds: Self.holds(records, texts, cards: true)) }
    }

    private mutating func noteBirthday(_ index: Int32, _ day: Int64) {
        let (_, m, d) = Time.civil(days: day)
        birthdays[Int(m * 32 + d), default: []].append(index)
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private mutating func applyToClient(_ i: Int, _ record: EventRecord) {
        switch record.event {
        case .bonusAccrued(let a):
            // A purchase's accrual follows the purchase: try the last one before hashing.
            let last = Int32(purchaseStates.count - 1)
            let purchase = a.reason == .purchase || a.reason == .refund
                ? a.source.flatMap { purchaseIDs.has(last, key: $0) ? last : purchaseIDs.find($0) } : nil
            applyAccrual(i, position: record.position, at: record.at, amount: a.amount, reason: a.reason,
                         activatesAt: a.activatesAt, expiresAt: a.expiresAt, debtPaid: a.debtPaid, purchase: purchase)
            if a.reason == .birthday, let year = Self.birthdayYear(source: a.source?.utf8, at: record.at) { decideBirthday(i, year: year) }
        case .bonusActivated(let a):
            applyActivation(i, lot: a.lot, debtPaid: a.debtPaid)
        case .bonusWrittenOff(let o):
            applyWriteOff(i, amount: o.amount, takes: o.lots)
        case .bonusReserved(let r):
            for take in r.lots { if let l = lotSlot(i, take.lot) { lotPool[l].reserved += take.amount } }
            changeBalances(i) { $0.available -= r.amount; $0.reserved += r.amount }
            var order = orders[r.order] ?? {
                totals.openOrders += 1
                return OrderState(client: Int32(i))
            }()
            order.reserved += r.amount
            order.lots += r.lots
            orders[r.order] = order
        case .bonusReserveCaptured(let r):
            for take in r.lots {
                if let l = lotSlot(i, take.lot) {
                    lotPool[l].reserved -= take.amount
                    lotPool[l].remaining -= take.amount
                    lotPool[l].spent += take.amount
                }
            }
            changeBalances(i) { $0.reserved -= r.amount; $0.used += r.amount }
            releaseFromOrder(r)
            compactLots(i, touched: r.lots.lazy.map(\.lot))
        case .bonusReserveReleased(let r):
            for take in r.lots { if let l = lotSlot(i, take.lot) { lotPool[l].reserved -= take.amount } }
            changeBalances(i) { $0.reserved -= r.amount; $0.available += r.amount }
            releaseFromOrder(r)
        case .bonusExpired(let e):
            applyExpiry(i, lot: e.lot, amount: e.amount)
        case .bonusCancelled(let c):
            var fromPending: Int64 = 0
            for take in c.lots {
                guard let l = lotSlot(i, take.lot) else { continue }
                if lotPool[l].phase == .pending { fromPending += take.amount }
                lotPool[l].remaining -= take.amount
                if c.reason == .correction && take.lot == c.correctedLot { lotPool[l].corrected = true }
            }
            if let lot = c.correctedLot, let l = lotSlot(i, lot) { lotPool[l].corrected = true }
            let taken = c.lots.reduce(0) { $0 + $1.amount }
            changeBalances(i) {
                $0.pending -= fromPending
                $0.available -= taken - fromPending + c.debt
                $0.debt += c.debt
                $0.cancelled += taken + c.debt
            }
            if let purchase = c.purchase, let p = purchaseIDs.find(purchase) { returnTotals[p, default: ReturnTotals()].clawedBack += taken + c.debt + c.forgiven }
            compactLots(i, touched: c.lots.lazy.map(\.lot))
        case .purchaseMade(let p):
            let (index, isNew) = purchaseIDs.findOrInsert(p.purchase)
            precondition(isNew, "a purchase id is recorded once")
            applyPurchase(i, index: index, at: record.at, paid: p.paid, spent: p.bonusesSpent)
        case .purchaseReturned(let r):
            if let p = purchaseIDs.find(r.purchase) {
                if !isRebuilding, inWindow(i, p) {
                    let before = kept(p)
                    records[i].windowSum -= r.amount
                    if before > 0 && before - r.amount <= 0 { records[i].windowCount -= 1 }
                }
                returnTotals[p, default: ReturnTotals()].returnedPaid += r.amount
                returns[ReturnKey(p, r.returnID)] = record.position...record.position
                openReturn = ReturnKey(p, r.returnID)
            }
            records[i].stats.returnCount += 1
            records[i].stats.returnSum += r.amount
        case .orderPlaced(let o):
            if orders[o.order] == nil {
                orders[o.order] = OrderState(client: Int32(i))
                totals.openOrders += 1
            }
        case .orderClosed(let o):
            settleOrder(o.order, client: i, as: .closed)
        case .orderCancelled(let o):
            settleOrder(o.order, client: i, as: .cancelled)
        case .mailingSent(let m):
            applyContact(i, channel: m.channel, delivered: false, at: record.at)
        case .mailingDelivered(let m):
            applyContact(i, channel: m.channel, delivered: true, at: record.at)
        case .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed:
            break
        case .messengerSubscribed(let c):
            applySubscription(i, channel: c, subscribed: true)
        case .messengerUnsubscribed(let c):
            applySubscription(i, channel: c, subscribed: false)
        case .segmentEntered(let s), .segmentAssigned(let s):
            let code = segmentCodes[s] ?? {
                let code = UInt32(segmentNames.count)
                segmentNames.append(s)
                segmentCodes[s] = code
                return code
            }()
            segmentMembers.insert(Self.membership(i, code))
        case .segmentLeft(let s), .segmentUnassigned(let s):
            if let code = segmentCodes[s] { segmentMembers.remove(Self.membership(i, code)) }
        case .profileChanged(let changes):
            applyProfile(i, changes)
        case .cardAdded(let card):
            var profile = profile(i)
            profile.cards.append(card)
            records[i].profile = texts.append(profile)
            setHolder(card, Int32(i), cards: true)
        case .cardRemoved(let card):
            var profile = profile(i)
            profile.cards.removeAll { $0 == card }
            records[i].profile = texts.append(profile)
            cardIndex.remove(card, heldBy: Int32(i))
        case .clientBlocked:
            changeStanding(i) { $0.blocked = true }
        case .clientUnblocked:
            changeStanding(i) { $0.blocked = false }
        case .clientDeleted:
            changeStanding(i) { $0.deleted = true }
            let profile = profile(i)
            if let phone = profile.phone { phoneIndex.remove(phone, heldBy: Int32(i)) }
            for card in profile.cards { cardIndex.remove(card, heldBy: Int32(i)) }
        case .walletInstalled(let p):
            applyWallet(i, platform: p, installed: true)
        case .walletRemoved(let p):
            applyWallet(i, platform: p, installed: false)
        case .levelChanged(let l):
            applyLevel(i, to: l.to, manual: l.manual)
        case .npsRated(let score, let comment):
            clientNPS.append(Int32(i), at: record.at, text: comment.map { texts.append([$0]) } ?? .none, value: score)
        case .noteAdded(let text):
            clientNotes.append(Int32(i), at: record.at, text: texts.append([text]), value: 0)
        case .operationRefused(let refusal):
            if let year = Self.birthdayYear(source: refusal.source?.utf8, at: nil) { decideBirthday(i, year: year) }
        case .custom:
            break
        case .clientRegistered, .rulesChanged, .segmentDefined, .segmentDeleted, .system:
            break
        }
    }

    // The state changes of the most frequent events, shared by `apply` and the byte-level
    // replay (Replay.swift), so the two cannot differ.

    mutating func applyAccrual(_ i: Int, position: UInt64, at: Micros, amount: Int64, reason: AccrualReason,
                               activatesAt: Micros, expiresAt: Micros, debtPaid: Int64, purchase: Int32?) {
        let active = activatesAt <= at
        let lot = Lot(position: position, amount: amount, remaining: amount - debtPaid, reserved: 0,
                      activatesAt: activatesAt, expiresAt: expiresAt,
                      phase: active ? .active : .pending, reason: reason, corrected: false)
        let slot = lotPool.push(lot, client: Int32(i), list: &records[i].lotList)
        if !active && records[i].activationHint < 0 { records[i].activationHint = slot }
        if active {
            // available = active remaining − reserved − debt: the part that pays the debt
            // leaves the lot and the debt together, so available grows by the whole amount.
            changeBalances(i) { $0.accrued += amount; $0.debt -= debtPaid; $0.available += amount }
            scheduleDue(expiresAt, client: i, lot: position)
        } else {
            changeBalances(i) { $0.accrued += amount; $0.pending += amount }
            scheduleDue(activatesAt, client: i, lot: position)
        }
        if let purchase {
            if reason == .purchase {
                precondition(position < StoredPurchase.noLot, "a lot's position must stay below 2^48 - 1")
                purchaseStates[Int(purchase)].word = purchaseStates[Int(purchase)].word & StoredPurchase.wideBit | position
                setAmounts(purchase, paid: paid(purchase), accrued: amount)
            }
            if reason == .refund { returnTotals[purchase, default: ReturnTotals()].refunded += amount }
        }
    }

    /// Notes that client `i`'s birthday of `year` is decided (a bonus given or refused).
    mutating func decideBirthday(_ i: Int, year: Int32) {
        records[i].lastBirthdayYear = max(records[i].lastBirthdayYear, year)
    }

    /// The year a birthday bonus or refusal is for: the year its source names (`birthday-2025`:
    /// a bonus given late, in January, is still last year's), else, for a bonus whose source
    /// says nothing of it, the year of its time.
    static func birthdayYear<Source: Collection<UInt8>>(source: Source?, at: Micros?) -> Int32? {
        let prefix = "birthday-".utf8
        if let source, source.starts(with: prefix), let year = Int32(String(decoding: source.dropFirst(prefix.count), as: UTF8.self)) {
            return year
        }
        return at.map { Int32(clamping: Time.civil(days: Time.day(of: $0)).year) }
    }

    /// Puts a lot's next due time in the schedule, when it falls before the horizon.
    @inline(__always)
    private mutating func scheduleDue(_ due: Micros, client i: Int, lot position: UInt64) {
        if !isRebuilding && due < schedule.horizon { schedule.push(.init(due: due, client: Int32(i), lot: position)) }
    }

    /// Moves the schedule's horizon on to `horizon`, adding the open lots due from the old
    /// horizon up to the new one (a walk over every client's lots).
    mutating func extendSchedule(to horizon: Micros) {
        guard horizon > schedule.horizon else { return }
        var due = dueEntries(from: schedule.horizon, before: horizon)
        schedule.add(&due)
        schedule.horizon = horizon
    }

    /// The activations and expiries of open lots due in `[from, before)`, as the live state
    /// schedules them (a walk over every client's lots).
    func dueEntries(from: Micros, before horizon: Micros) -> [Schedule.Entry] {
        // Room for every open lot, reserved and not touched: the array never doubles, so no
        // outgrown copy stays in the heap, and only what is written becomes resident.
        var due: [Schedule.Entry] = []
        due.reserveCapacity(lotPool.live)
        for i in records.indices {
            var slot = records[i].lotHead
            while slot >= 0 {
                let lot = lotPool.dueView(slot)
                // As the live state schedules them: a pending lot's activation even when a
                // return has taken all of it (it activates at 0 and closes), an active lot's
                // expiry while something remains.
                let time: Micros? = switch lot.phase {
                case .pending: lot.activatesAt
                case .active: lot.hasRemaining ? lot.expiresAt : nil
                case .expired: nil
                }
                if let time, time >= from, time < horizon { due.append(.init(due: time, client: Int32(i), lot: lot.position)) }
                slot = lot.next
            }
        }
        return due
    }

    mutating func applyActivation(_ i: Int, lot: UInt64, debtPaid: Int64) {
        // Lots activate oldest first: the hint usually names this one.
        let hint = records[i].activationHint
        guard let l = hint >= 0 && lotPool.lots[Int(hint)].position == lot ? hint : lotSlot(i, lot) else { return }
        records[i].activationHint = lotPool.lots[Int(l)].previous
        // What is left of the lot (a return may have taken part while it was pending) moves
        // from pending to available; a part of it pays the debt (see accrual).
        let left = lotPool[l].remaining
        lotPool[l].phase = .active
        lotPool[l].remaining -= debtPaid
        changeBalances(i) { $0.pending -= left; $0.available += left; $0.debt -= debtPaid }
        scheduleDue(lotPool[l].expiresAt, client: i, lot: lot)
        closeIfDone(i, l)
    }

    mutating func applyWriteOff(_ i: Int, amount: Int64, takes: [LotTake]) {
        for take in takes {
            if let l = lotSlot(i, take.lot) {
                lotPool[l].remaining -= take.amount
                lotPool[l].spent += take.amount
                closeIfDone(i, l)
            }
        }
        changeBalances(i) { $0.available -= amount; $0.used += amount }
    }

    mutating func applyExpiry(_ i: Int, lot: UInt64, amount: Int64) {
        guard let l = lotSlot(i, lot) else { return }
        lotPool[l].remaining -= amount
        // Expired once no free part is left in it. A reservation released after the lot's
        // expiry, before the advance step, burns only what it gave back: the free rest is
        // still the advance step's to burn (which looks for active lots).
        if lotPool[l].remaining == lotPool[l].reserved { lotPool[l].phase = .expired }
        changeBalances(i) { $0.available -= amount; $0.expired += amount }
        closeIfDone(i, l)
    }

    mutating func applyPurchase(_ i: Int, index: Int32, at: Micros, paid: Int64, spent: Int64) {
        precondition(Int(index) == purchaseStates.count)
        purchaseStates.append(StoredPurchase(client: Int32(i), at: at))
        setAmounts(index, paid: paid, accrued: 0)
        if spent != 0 { purchaseSpent.append(index, spent) }
        if records[i].lastPurchase >= 0 { purchaseStates[Int(records[i].lastPurchase)].next = index } else { records[i].firstPurchase = index }
        records[i].lastPurchase = index
        records[i].stats.purchaseCount += 1
        records[i].stats.purchaseSum += paid
        records[i].stats.maxCheck = max(records[i].stats.maxCheck, paid)
        if records[i].stats.firstPurchaseAt == nil { records[i].stats.firstPurchaseAt = at }
        records[i].stats.lastPurchaseAt = at
        guard !isRebuilding else { return }
        records[i].windowSum += paid
        records[i].windowCount += paid > 0 ? 1 : 0
        if records[i].windowStart < 0 { records[i].windowStart = index }
        advanceWindow(i, to: at)
    }

    /// What a purchase keeps after its returns.
    @inline(__always)
    func kept(_ index: Int32) -> Int64 { paid(index) - (returnTotals[index]?.returnedPaid ?? 0) }

    /// The first day of the level window that ends on the day of `at` (nil: all time).
    func windowFirstDay(_ at: Micros) -> Int64? {
        rules.levelWindowDays > 0 ? Time.day(of: at) - rules.levelWindowDays + 1 : nil
    }

    /// Drops from a client's level window the purchases that fell out of it by `at`.
    mutating func advanceWindow(_ i: Int, to at: Micros) {
        let window = self.window(i, at: at)
        records[i].windowSum = window.sum
        records[i].windowCount = Int32(window.count)
        records[i].windowStart = window.start
    }

    /// Client `i`'s level window as of its last purchase, less the purchases that left it by
    /// `at`: what they kept after returns, how many kept some, and the first still inside.
    @inline(__always)
    func window(_ i: Int, at: Micros) -> (sum: Int64, count: Int64, start: Int32) {
        var (sum, count, start) = (records[i].windowSum, Int64(records[i].windowCount), records[i].windowStart)
        guard let from = windowFirstDay(at) else { return (sum, count, start) }
        while start >= 0, Time.day(of: purchaseStates[Int(start)].at) < from {
            let keep = kept(start)
            sum -= keep
            count -= keep > 0 ? 1 : 0
            start = purchaseStates[Int(start)].next
        }
        return (sum, count, start)
    }

    /// Whether purchase `index` of client `i` is inside its level window (as of its last purchase).
    /// A client's purchase indexes ascend along its list, and the window is the list's tail
    /// from `windowStart`.
    @inline(__always)
    func inWindow(_ i: Int, _ index: Int32) -> Bool {
        purchaseStates[Int(index)].client == Int32(i) && records[i].windowStart >= 0 && index >= records[i].windowStart
    }

    /// Recomputes every client's level window as of `at` (after a rebuild, or a change of the
    /// rules' window): the client's purchases on or after the window's first day. One pass over
    /// the purchases in the order they were made (which is time order), rather than a walk of
    /// each client's list: the records are written in any order, but nothing waits on a link.
    mutating func recomputeWindows(at: Micros) {
        let windows = recomputedWindows(at: at)
        for i in records.indices {
            // Written only where it changed: a record mapped from a snapshot that holds these
            // very windows is then not copied page by page.
            if records[i].windowStart != windows.starts[i] { records[i].windowStart = windows.starts[i] }
            if records[i].windowSum != windows.sums[i] { records[i].windowSum = windows.sums[i] }
            if records[i].windowCount != windows.counts[i] { records[i].windowCount = windows.counts[i] }
        }
    }

    /// Every client's level window as of `at`, computed afresh from the purchases: the first
    /// purchase inside it (-1: none), how many inside kept some money, and what they kept.
    func recomputedWindows(at: Micros) -> (starts: [Int32], counts: [Int32], sums: [Int64]) {
        var starts = [Int32](repeating: -1, count: records.count)
        var counts = [Int32](repeating: 0, count: records.count)
        var sums = [Int64](repeating: 0, count: records.count)
        let from = windowFirstDay(at)
        for index in purchaseStates.indices {
            let p = purchaseStates[index]
            if let from, Time.day(of: p.at) < from { continue }
            let i = Int(p.client)
            let keep = kept(Int32(index))
            if starts[i] < 0 { starts[i] = Int32(index) }
            sums[i] += keep
            counts[i] += keep > 0 ? 1 : 0
        }
        return (starts, counts, sums)
    }

    mutating func applyContact(_ i: Int, channel: Channel, delivered: Bool, at: Micros) {
        records[i].channels.update(channel) { state in
            state.lastContactAt = at
            if delivered { state.received += 1 }
        }
    }

    mutating func applySubscription(_ i: Int, channel: Channel, subscribed: Bool) {
        records[i].channels.update(channel) { $0.subscribed = subscribed }
    }

    mutating func applyWallet(_ i: Int, platform: WalletPlatform, installed: Bool) {
        let bit: UInt8 = 1 << WalletPlatform.allCases.firstIndex(of: platform)!
        if installed { records[i].walletBits |= bit } else { records[i].walletBits &= ~bit }
    }

    mutating func applyLevel(_ i: Int, to: String?, manual: Bool) {
        records[i].levelCode = levelCode(to)
        records[i].levelManual = manual
    }

    /// Drops lots that can never change again from memory: nothing left, nothing held, and not a
    /// manual accrual (which a correction may still void). The log keeps them.
    /// Only the lots an event touched are looked at.
    private mutating func compactLots(_ i: Int, touched positions: some Sequence<UInt64>) {
        for position in positions {
            guard let l = lotSlot(i, position) else { continue }
            closeIfDone(i, l)
        }
    }

    /// Drops the lot in slot `l` of client `i` if it can never change again.
    @inline(__always)
    private mutating func closeIfDone(_ i: Int, _ l: Int32) {
        let lot = lotPool[l]
        if lot.remaining == 0 && lot.reserved == 0 && lot.phase != .pending && lot.reason != .manual && lot.reason != .api {
            lotPool.remove(l, client: Int32(i), list: &records[i].lotList)
            if records[i].activationHint == l { records[i].activationHint = -1 }
        } else if lot.remaining == 0 {
            lotPool.emptied(l, client: Int32(i), list: records[i].lotList)
        }
    }

    /// Changes a client's balances, and the ledger's totals with them (a deleted client's
    /// balances are not in the totals). `change` must only add or take amounts it is given,
    /// so that applying it to both moves them by the same amounts.
    @inline(__always)
    mutating func changeBalances(_ i: Int, _ change: (inout Balances) -> Void) {
        change(&records[i].balances)
        if !records[i].deleted { change(&totals.balances) }
    }

    /// Changes client `i`'s blocked or deleted flag, moving it between the totals' counts.
    private mutating func changeStanding(_ i: Int, _ change: (inout ClientRecord) -> Void) {
        count(i, -1)
        change(&records[i])
        count(i, 1)
    }

    /// Counts client `i` in the totals as it stands (`sign` 1) or takes it out (`sign` -1).
    private mutating func count(_ i: Int, _ sign: Int) {
        if records[i].deleted {
            totals.deletedClients += sign
            return
        }
        totals.clients += sign
        if records[i].blocked { totals.blockedClients += sign }
        totals.balances.add(records[i].balances, sign: Int64(sign))
    }

    /// Closes or cancels an order (one the log never opened is recorded settled).
    private mutating func settleOrder(_ id: String, client i: Int, as phase: OrderState.Phase) {
        if orders[id]?.phase == .open { totals.openOrders -= 1 }
        orders[id, default: OrderState(client: Int32(i))].phase = phase
    }

    private mutating func releaseFromOrder(_ r: Reservation) {
        guard var order = orders[r.order] else { return }
        order.reserved -= r.amount
        for take in r.lots {
            if let k = order.lots.firstIndex(where: { $0.lot == take.lot }) {
                order.lots[k].amount -= take.amount
                if order.lots[k].amount == 0 { order.lots.remove(at: k) }
            }
        }
        // A settled order keeps no buffer (most orders are settled, and stay for good).
        if order.lots.isEmpty { order.lots = [] }
        orders[r.order] = order
    }

    /// Applies a profile change's fields; the texts are written to the arena once, at the end.
    private mutating func applyProfile(_ i: Int, _ changes: [FieldChange]) {
        var texts = profile(i)
        var textsChanged = false
        for change in changes {
            switch change.field {
            case "name": texts.name = change.new; textsChanged = true
            case "email": texts.email = change.new; textsChanged = true
            case "place": texts.place = change.new; textsChanged = true
            case "gender": records[i].setGender(change.new.flatMap(Gender.init(rawValue:)))
            case "status": if let s = change.new.flatMap(ParticipationStatus.init(rawValue:)) { records[i].status = s }
            case "birthday":
                records[i].setBirthday(change.new.flatMap(Time.parse).map(Time.day(of:)))
                if let day = records[i].birthday { noteBirthday(Int32(i), day) }
            case "phone":
                if let old = texts.phone { phoneIndex.remove(old, heldBy: Int32(i)) }
                texts.phone = change.new
                textsChanged = true
                if let new = change.new { setHolder(new, Int32(i), cards: false) }
            default: break
            }
        }
        if textsChanged { records[i].profile = self.texts.append(texts) }
    }

    /// The one-byte code of a level name (interned on first sight).
    mutating func levelCode(_ name: String?) -> UInt8 {
        guard let name else { return 0 }
        if let k = levelNames.firstIndex(of: name) { return UInt8(k + 1) }
        precondition(levelNames.count < 255, "at most 255 distinct level names")
        levelNames.append(name)
        return UInt8(levelNames.count)
    }

    /// Ends a rebuild: the level windows from every client's purchases, and the due-time
    /// schedule from the open lots (a pending lot's activation, an active lot's expiry) up to
    /// a horizon past the last event.
    public mutating func finishRebuild() {
        isRebuilding = false
        if lastEventAt != Int64.min { recomputeWindows(at: lastEventAt) }
        schedule.removeAll()
        schedule.horizon = .min
        if lastEventAt != Int64.min { extendSchedule(to: Schedule.horizon(after: lastEventAt)) }
    }
}
