import LedgerStorage
import LedgerBytes

/// What the ledger keeps of one client, in a fixed-size record with no references in it (no
/// String, no array), so that a million of them sit in flat chunks, copy without reference
/// counting and rebuild with one cache line or two touched per event. The rest lives beside
/// it in the state: the profile's texts in ``TextArena``, the lots in ``LotPool``, the
/// purchases linked through ``PurchaseState``, and the rare collections (cards, NPS, notes,
/// segments) in tables keyed by client. ``LedgerState/clients`` puts the parts together
/// into a ``ClientState`` when someone asks.
public struct ClientRecord: Sendable {
    // Laid out by cache line (64 bytes each), the fields every event touches first, so that a
    // rebuild prefetches two lines an event: the first, and the one its type changes.
    // Line 0: what every event touches, the lot list, the purchases, the flags.
    public internal(set) var lastEventAt: Micros = 0
    /// Events of the client (saturating at 2³¹ − 1).
    var events: Int32 = 0
    public internal(set) var eventCount: Int64 {
        get { Int64(events) }
        set { events = Int32(clamping: newValue) }
    }
    /// The client's lots in the lot pool: the newest and the oldest (a doubly linked list; -1: none).
    var lotHead: Int32 = -1
    var lotTail: Int32 = -1
    /// The slot of the lot likely to be activated next (the newer neighbour of the last one
    /// activated): a hint, checked by position before it is trusted (-1: none).
    var activationHint: Int32 = -1
    /// The client's purchases (indexes into ``LedgerState/purchaseStates``, linked by
    /// ``PurchaseState/next``), the first still inside the level window (-1: none), and how
    /// many in the window kept some money.
    var firstPurchase: Int32 = -1
    var lastPurchase: Int32 = -1
    var windowStart: Int32 = -1
    var windowCount: Int32 = 0
    /// The level window as of the client's last purchase: its sum (see ``LedgerState``).
    var windowSum: Int64 = 0
    /// Days since 1970 (Int32.min: none).
    var birthdayDay: Int32 = .min
    /// The last year whose birthday the advance step decided: a bonus given, or refused (see
    /// ``Refusal/source``).
    var lastBirthdayYear: Int32 = .min
    public internal(set) var status: ParticipationStatus
    public internal(set) var blocked = false
    public internal(set) var deleted = false
    public internal(set) var levelManual = false
    /// One bit a Wallet platform (see ``ClientState/walletPlatforms``).
    public internal(set) var walletBits: UInt8 = 0
    /// 0: none; else 1 + the index in ``LedgerState/levelNames``.
    var levelCode: UInt8 = 0
    var genderCode: UInt8 = 0
    /// How many lots the list holds while fewer than ``LotPool/indexFrom``; ``LotPool/indexed``
    /// once the list has a ``LotIndex`` (which counts them).
    var lotCount: UInt8 = 0
    // Line 1: the balances (bonus events).
    public internal(set) var balances = Balances()
    // Line 2: the purchase figures, registration, and the profile's place in the text arena.
    public internal(set) var stats = ClientStats()
    public internal(set) var registeredAt: Micros
    /// Name, phone, email, place, who added the client and the cards (``Profile``), in the
    /// text arena.
    var profile = TextRef.none
    // Line 3: the channels (mailings).
    public internal(set) var channels = ChannelStates()

    init(status: ParticipationStatus, registeredAt: Micros) {
        self.status = status
        self.registeredAt = registeredAt
    }

    /// The client's lot list, as ``LotPool`` takes it.
    var lotList: LotList {
        get { LotList(head: lotHead, tail: lotTail, count: lotCount) }
        set { lotHead = newValue.head; lotTail = newValue.tail; lotCount = newValue.count }
    }

    public var birthday: Int64? { birthdayDay == .min ? nil : Int64(birthdayDay) }
    public var gender: Gender? { genderCode == 0 ? nil : Gender.allCases[Int(genderCode) - 1] }
    mutating func setGender(_ gender: Gender?) { genderCode = gender.map { UInt8(Gender.allCases.firstIndex(of: $0)! + 1) } ?? 0 }
    mutating func setBirthday(_ day: Int64?) { birthdayDay = day.map { Int32(clamping: $0) } ?? .min }
}

/// A client's profile texts and cards, stored together as one entry of the text arena.
public struct Profile: Sendable, Equatable {
    public var name: String?
    public var phone: String?
    public var email: String?
    public var place: String?
    public var addedBy: String?
    public var cards: [String]
    public init(name: String? = nil, phone: String? = nil, email: String? = nil, place: String? = nil, addedBy: String? = nil,
                cards: [String] = []) {
        self.name = name; self.phone = phone; self.email = email; self.place = place; self.addedBy = addedBy; self.cards = cards
    }
}

/// The clients as whole ``ClientState`` values, put together on each access: for cards,
/// reports and tests. Hot paths read ``LedgerState/records`` and the parts beside it.
public struct ClientList: RandomAccessCollection, Sendable {
    let state: LedgerState
    public var startIndex: Int { 0 }
    public var endIndex: Int { state.records.count }
    public subscript(i: Int) -> ClientState { state.clientState(i) }
}

extension TextArena {
    /// A profile: an entry of its five texts, then its cards.
    mutating func append(_ p: Profile) -> TextRef {
        // Handed over field by field: an array of the texts would be allocated and filled.
        func text(_ k: Int) -> String? {
            switch k {
            case 0: p.name
            case 1: p.phone
            case 2: p.email
            case 3: p.place
            case 4: p.addedBy
            default: p.cards[k - 5]
            }
        }
        let bound = (0..<5).reduce(0) { $0 + (text($1)?.utf8.count ?? 0) } + p.cards.reduce(0) { $0 + $1.utf8.count }
        return appendEntry(count: 5 + p.cards.count, bound: bound) { k, write in
            guard var text = text(k) else { return write(nil) }
            text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
        }
    }

    func profile(_ ref: TextRef) -> Profile {
        let t = read(ref)
        guard t.count >= 5 else { return Profile() }
        return Profile(name: t[0], phone: t[1], email: t[2], place: t[3], addedBy: t[4], cards: t[5...].compactMap { $0 })
    }
}
