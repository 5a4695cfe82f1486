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

/// What only some clients have and a card lists in order (NPS ratings, notes): entries in one
/// flat pool, each client's linked from the newest to the oldest, the newest in a dictionary,
/// their texts in the text arena. 32 bytes an entry, where an array and a String apiece in a
/// dictionary of clients cost about 190.
public struct ClientEntries: Sendable {
    public struct Entry: Sendable {
        public var at: Micros
        public var text: TextRef
        public var value: Int64
        var older: Int32
    }
    var entries: [Entry] = []
    var newest: [Int32: Int32] = [:]

    mutating func append(_ client: Int32, at: Micros, text: TextRef, value: Int64) {
        entries.append(Entry(at: at, text: text, value: value, older: newest[client] ?? -1))
        newest[client] = Int32(entries.count - 1)
    }

    /// A client's entries, oldest first.
    func list(_ client: Int32) -> [Entry] {
        var list: [Entry] = []
        var k = newest[client] ?? -1
        while k >= 0 { list.append(entries[Int(k)]); k = entries[Int(k)].older }
        return list.reversed()
    }
}

/// Values for some of a growing run of indexes, each set once as its index is made (what a
/// receipt spent): two flat arrays searched by halving, 12 bytes an entry where a dictionary
/// takes 27 at its usual load.
struct AscendingValues: Sendable {
    var indexes: [Int32] = []
    var values: [Int64] = []

    var count: Int { indexes.count }

    mutating func append(_ index: Int32, _ value: Int64) {
        precondition(indexes.last.map { $0 < index } ?? true, "indexes are appended in ascending order")
        indexes.append(index)
        values.append(value)
    }

    subscript(index: Int32) -> Int64? {
        var low = 0, high = indexes.count
        while low < high {
            let mid = (low + high) / 2
            if indexes[mid] < index { low = mid + 1 } else { high = mid }
        }
        return low < indexes.count && indexes[low] == index ? values[low] : nil
    }
}

/// Where an entry of the text arena lives (8 bytes).
public struct TextRef: Sendable, Equatable {
    var chunk: UInt32
    var offset: UInt32
    static let none = TextRef(chunk: .max, offset: 0)
}

/// Append-only storage for small texts: entries back to back in 1 MiB chunks (an entry never
/// spans two), so a million profiles cost their bytes plus a length byte or two each, and no
/// allocation apiece. An entry is its count of texts (a varint), then each optional text as a
/// header varint and its stored bytes. A changed profile is written anew; the old bytes stay
/// until a snapshot compacts them (profile changes are rare).
///
/// A text is stored in the most compact of three lossless forms, so that what a Russian
/// program's profiles are made of costs about half its UTF-8 size:
/// - *Digits*: a text of ASCII digits, with or without a leading `+` (phones, cards), two
///   digits a byte.
/// - *Russian*: a text of ASCII and the Cyrillic letters А–я, Ё, ё, one byte a character
///   (ASCII as itself; А–я as 0x80–0xBF; Ё 0xC0, ё 0xC1).
/// - *UTF-8*: anything else, as it is.
///
/// The header is 0 for nil, else 1 + (n << 2 | form): form 0 UTF-8 (n bytes), 1 Russian
/// (n bytes), 2 digits (n digits in ⌈n/2⌉ bytes, first digit in the high half), 3 `+` then
/// digits (likewise).
public struct TextArena: Sendable {
    static let chunkBytes = 1 << 20
    var chunks: [[UInt8]] = []

    public var byteCount: Int { chunks.reduce(0) { $0 + $1.count } }

    mutating func append(_ texts: [String?]) -> TextRef {
        appendEntry(count: texts.count, bound: texts.reduce(0) { $0 + ($1?.utf8.count ?? 0) }) { k, write in
            guard var text = texts[k] else { return write(nil) }
            text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
        }
    }

    /// An entry from UTF-8 bytes as they are in an event's body (a rebuild makes no String).
    mutating func append(bytes texts: [UnsafeRawBufferPointer?]) -> TextRef {
        appendEntry(count: texts.count, bound: texts.reduce(0) { $0 + ($1?.count ?? 0) }) { k, write in write(texts[k]) }
    }

    /// Writes an entry of `count` texts, which `text(k, write)` hands to `write` one by one
    /// (nil for a missing one), into a buffer on the stack, then stores it. `bound` is their
    /// UTF-8 bytes in all: with the count's and each header's varint (10 bytes at most), no
    /// form is longer than that (the writes are checked all the same: they trap, never overrun).
    private mutating func appendEntry(count: Int, bound: Int,
                                      _ text: (Int, (UnsafeRawBufferPointer?) -> Void) -> Void) -> TextRef {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 10 + 10 * count + bound) { buffer in
            var entry = Entry(buffer: buffer)
            entry.varint(count)
            for k in 0..<count {
                text(k) { utf8 in
                    guard let utf8 else { return entry.byte(0) }
                    entry.text(utf8)
                }
            }
            return store(UnsafeBufferPointer(rebasing: buffer[0..<entry.written]))
        }
    }

    /// The bytes of one entry as they are built, in a buffer sized beforehand.
    private struct Entry {
        let buffer: UnsafeMutableBufferPointer<UInt8>
        var written = 0

        init(buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

        @inline(__always)
        mutating func byte(_ b: UInt8) {
            buffer[written] = b  // bounds-checked: a wrong bound traps, never overruns
            written += 1
        }

        mutating func varint(_ value: Int) {
            Varint.write(UInt64(value)) { byte($0) }
        }

        /// One text in its most compact form (see ``TextArena``).
        mutating func text(_ utf8: UnsafeRawBufferPointer) {
            if let plus = TextArena.digitForm(utf8) {
                let n = utf8.count - plus
                varint(1 + (n << 2 | (2 + plus)))
                var i = plus
                while i < utf8.count {
                    let high = utf8[i] - 48
                    let low = i + 1 < utf8.count ? utf8[i + 1] - 48 : 0
                    byte(high << 4 | low)
                    i += 2
                }
            } else if let n = TextArena.russianCount(utf8) {
                varint(1 + (n << 2 | 1))
                var i = 0
                while i < utf8.count {
                    let b = utf8[i]
                    if b < 0x80 { byte(b); i += 1; continue }
                    let scalar = (Int(b & 0x1F) << 6) | Int(utf8[i + 1] & 0x3F)
                    byte(scalar == 0x401 ? 0xC0 : scalar == 0x451 ? 0xC1 : UInt8(0x80 + scalar - 0x410))
                    i += 2
                }
            } else {
                varint(1 + (utf8.count << 2))
                // The slice is bounds-checked like `byte`: a wrong bound traps.
                UnsafeMutableRawBufferPointer(UnsafeMutableBufferPointer(rebasing: buffer[written..<(written + utf8.count)])).copyMemory(from: utf8)
                written += utf8.count
            }
        }
    }

    /// The offset where the digits start (0, or 1 after a `+`) when the text is a `+` or nothing
    /// followed by one or more ASCII digits; nil otherwise.
    static func digitForm(_ utf8: UnsafeRawBufferPointer) -> Int? {
        let start = utf8.first == UInt8(ascii: "+") ? 1 : 0
        guard utf8.count > start else { return nil }
        for i in start..<utf8.count where !(48...57).contains(utf8[i]) { return nil }
        return start
    }

    /// How many characters the text has when it is all ASCII and Cyrillic А–я, Ё, ё with at
    /// least one Cyrillic letter; nil otherwise (then UTF-8 is as short).
    static func russianCount(_ utf8: UnsafeRawBufferPointer) -> Int? {
        var i = 0, n = 0, cyrillic = false
        while i < utf8.count {
            let b = utf8[i]
            if b < 0x80 { i += 1; n += 1; continue }
            guard i + 1 < utf8.count else { return nil }
            let next = utf8[i + 1]
            // А–п: D0 90–BF; Ё: D0 81; р–я: D1 80–8F; ё: D1 91.
            let known = (b == 0xD0 && (next == 0x81 || (0x90...0xBF).contains(next))) || (b == 0xD1 && (next == 0x91 || (0x80...0x8F).contains(next)))
            guard known else { return nil }
            cyrillic = true
            i += 2
            n += 1
        }
        return cyrillic ? n : nil
    }

    private mutating func store(_ entry: UnsafeBufferPointer<UInt8>) -> TextRef {
        if chunks.isEmpty || chunks[chunks.count - 1].count + entry.count > Self.chunkBytes {
            var chunk: [UInt8] = []
            chunk.reserveCapacity(max(Self.chunkBytes, entry.count))
            chunks.append(chunk)
        }
        let ref = TextRef(chunk: UInt32(chunks.count - 1), offset: UInt32(chunks[chunks.count - 1].count))
        chunks[chunks.count - 1].append(contentsOf: entry)
        return ref
    }

    /// The texts of an entry (none for ``TextRef/none``).
    func read(_ ref: TextRef) -> [String?] {
        guard ref != .none else { return [] }
        return chunks[Int(ref.chunk)].withUnsafeBytes { bytes in
            var i = Int(ref.offset)
            func varint() -> Int { memoryVarint(bytes, &i) }
            let count = varint()
            var result: [String?] = []
            result.reserveCapacity(count)
            var utf8: [UInt8] = []
            for _ in 0..<count {
                let header = varint()
                if header == 0 { result.append(nil); continue }
                let form = (header - 1) & 3, n = (header - 1) >> 2
                utf8.removeAll(keepingCapacity: true)
                switch form {
                case 0:
                    utf8.append(contentsOf: bytes[i..<(i + n)])
                    i += n
                case 1:
                    for b in bytes[i..<(i + n)] {
                        if b < 0x80 { utf8.append(b); continue }
                        let scalar = b == 0xC0 ? 0x401 : b == 0xC1 ? 0x451 : 0x410 + Int(b - 0x80)
                        utf8.append(UInt8(0xC0 | scalar >> 6))
                        utf8.append(UInt8(0x80 | scalar & 0x3F))
                    }
                    i += n
                default:
                    if form == 3 { utf8.append(UInt8(ascii: "+")) }
                    for k in 0..<n {
                        let byte = bytes[i + k / 2]
                        utf8.append(48 + (k % 2 == 0 ? byte >> 4 : byte & 0x0F))
                    }
                    i += (n + 1) / 2
                }
                result.append(String(decoding: utf8, as: UTF8.self))
            }
            return result
        }
    }

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

/// A lot as the pool keeps it: 40 bytes. The position shares its word with the phase, the
/// reason and four flags (positions stay below 2⁴⁸). The amount and what remains are kept in
/// 32 bits (up to 42 949 672,95 bonuses); a lot with more is *wide*: both are kept beside, in
/// full. What orders hold (`reserved`) and what was spent (`spent`) are kept beside too, for
/// the few lots where they are not zero.
struct PooledLot: Sendable {
    var key: UInt64
    var activatesAt: Micros
    var expiresAt: Micros
    var amount: UInt32
    var remaining: UInt32
    var next: Int32
    var previous: Int32

    static let positionBits: UInt64 = 48
    static let positionMask: UInt64 = (1 << positionBits) - 1
    // Bits above the position: 48–49 phase, 50–53 reason, 54 corrected, 55 reserved ≠ 0,
    // 56 spent ≠ 0, 57 wide.
    static let correctedBit: UInt64 = 1 << 54
    static let reservedBit: UInt64 = 1 << 55
    static let spentBit: UInt64 = 1 << 56
    static let wideBit: UInt64 = 1 << 57

    static let empty = PooledLot(key: 0, activatesAt: 0, expiresAt: 0, amount: 0, remaining: 0, next: -1, previous: -1)

    @inline(__always) var position: UInt64 { key & Self.positionMask }
}

/// Where a client's lots are in the pool: the newest and the oldest of its list (-1: none),
/// and how many there are (see ``ClientRecord/lotCount``).
struct LotList: Sendable {
    var head: Int32
    var tail: Int32
    var count: UInt8
}

/// Every client's lots in one pool: each client's lots form a doubly linked list through
/// `next` (older) and `previous` (newer), newest at the head, and a slot freed by a closed lot
/// is reused. No array a client. A lookup walks from whichever end is nearer by position:
/// activations and returns touch young lots, expiries and write-offs old ones, so most
/// lookups take a step or two, one cache line a step. A client with many lots has a
/// ``LotIndex`` beside its list, which finds a lot in one probe and gives the spending order.
public struct LotPool: Sendable {
    var lots = ChunkedArray<PooledLot>()
    var reserved: [Int32: Int64] = [:]
    var spent: [Int32: Int64] = [:]
    var wide: [Int32: (amount: Int64, remaining: Int64)] = [:]
    var free: Int32 = -1
    /// The indexes of the clients with many lots, by client number.
    var indexes: [Int32: LotIndex] = [:]
    public internal(set) var live = 0

    /// A list gets an index when it reaches this many lots, and loses it below `indexUntil`.
    static let indexFrom = 64
    static let indexUntil = 16
    /// ``LotList/count`` of a list with an index.
    static let indexed = UInt8.max

    /// The whole lot in `slot`; changing it writes the compact form back.
    subscript(slot: Int32) -> Lot {
        get { lot(slot) }
        _modify {
            var lot = lot(slot)
            yield &lot
            store(lot, slot)
        }
    }

    /// What the schedule reads of a lot, without the side tables a whole ``Lot`` looks in.
    @inline(__always)
    func dueView(_ slot: Int32) -> (phase: Lot.Phase, activatesAt: Micros, expiresAt: Micros, hasRemaining: Bool, position: UInt64, next: Int32) {
        let p = lots[Int(slot)]
        let phase = Lot.Phase(rawValue: UInt8((p.key >> PooledLot.positionBits) & 3)) ?? .expired
        let hasRemaining = p.key & PooledLot.wideBit != 0 ? (wide[slot]?.remaining ?? 0) > 0 : p.remaining > 0
        return (phase, p.activatesAt, p.expiresAt, hasRemaining, p.position, p.next)
    }

    @inline(__always)
    private func lot(_ slot: Int32) -> Lot {
        let p = lots[Int(slot)]
        let bits = p.key >> PooledLot.positionBits
        let (amount, remaining) = p.key & PooledLot.wideBit != 0 ? wide[slot]! : (Int64(p.amount), Int64(p.remaining))
        return Lot(position: p.position, amount: amount, remaining: remaining,
                   reserved: p.key & PooledLot.reservedBit != 0 ? reserved[slot] ?? 0 : 0,
                   spent: p.key & PooledLot.spentBit != 0 ? spent[slot] ?? 0 : 0,
                   activatesAt: p.activatesAt, expiresAt: p.expiresAt,
                   phase: Lot.Phase(rawValue: UInt8(bits & 3))!, reason: AccrualReason.allCases[Int((bits >> 2) & 15)],
                   corrected: p.key & PooledLot.correctedBit != 0, next: p.next, previous: p.previous)
    }

    @inline(__always)
    private mutating func store(_ lot: Lot, _ slot: Int32) {
        precondition(lot.position <= PooledLot.positionMask, "a lot's position must stay below 2^48")
        var key = lot.position | UInt64(lot.phase.rawValue) << PooledLot.positionBits
            | UInt64(AccrualReason.allCases.firstIndex(of: lot.reason)!) << (PooledLot.positionBits + 2)
        if lot.corrected { key |= PooledLot.correctedBit }
        let old = lots[Int(slot)].key
        if lot.reserved != 0 { key |= PooledLot.reservedBit; reserved[slot] = lot.reserved } else if old & PooledLot.reservedBit != 0 { reserved[slot] = nil }
        if lot.spent != 0 { key |= PooledLot.spentBit; spent[slot] = lot.spent } else if old & PooledLot.spentBit != 0 { spent[slot] = nil }
        let narrow = UInt32(exactly: lot.amount).flatMap { a in UInt32(exactly: lot.remaining).map { (a, $0) } }
        if narrow == nil { key |= PooledLot.wideBit; wide[slot] = (lot.amount, lot.remaining) } else if old & PooledLot.wideBit != 0 { wide[slot] = nil }
        lots[Int(slot)] = PooledLot(key: key, activatesAt: lot.activatesAt, expiresAt: lot.expiresAt, amount: narrow?.0 ?? 0,
                                    remaining: narrow?.1 ?? 0, next: lot.next, previous: lot.previous)
    }

    /// Adds a lot of `client` (newer than every lot in its list) at the list's head; returns
    /// its slot.
    mutating func push(_ lot: Lot, client: Int32, list: inout LotList) -> Int32 {
        ensureIndex(client, list)
        var lot = lot
        lot.next = list.head
        lot.previous = -1
        let slot: Int32
        if free >= 0 {
            slot = free
            free = lots[Int(slot)].next
        } else {
            slot = Int32(lots.count)
            lots.append(.empty)
        }
        store(lot, slot)
        if list.head >= 0 { lots[Int(list.head)].previous = slot } else { list.tail = slot }
        list.head = slot
        live += 1
        if list.count == Self.indexed {
            indexes[client]!.add(position: lot.position, expiresAt: lot.expiresAt, slot: slot, spendable: lot.remaining > 0)
        } else {
            list.count += 1
            if list.count >= Self.indexFrom { makeIndex(client: client, list: &list) }
        }
        return slot
    }

    /// Builds the index of a list that should have one and has none yet (a state restored
    /// from a snapshot builds each when its list first changes; until then a lookup walks).
    @inline(__always)
    private mutating func ensureIndex(_ client: Int32, _ list: LotList) {
        if list.count == Self.indexed && indexes[client] == nil {
            var list = list
            makeIndex(client: client, list: &list)
        }
    }

    mutating func makeIndex(client: Int32, list: inout LotList) {
        var index = LotIndex()
        var slot = list.tail
        var all: [(expiresAt: Micros, position: UInt64, slot: Int32, spendable: Bool)] = []
        while slot >= 0 {
            let lot = lot(slot)
            all.append((lot.expiresAt, lot.position, slot, lot.remaining > 0))
            slot = lot.previous
        }
        all.sort { $0.expiresAt != $1.expiresAt ? $0.expiresAt < $1.expiresAt : $0.position < $1.position }
        for lot in all { index.add(position: lot.position, expiresAt: lot.expiresAt, slot: lot.slot, spendable: lot.spendable) }
        indexes[client] = index
        list.count = Self.indexed
    }

    /// The index of a list, if it has one.
    @inline(__always)
    func index(of client: Int32, _ list: LotList) -> LotIndex? { list.count == Self.indexed ? indexes[client] : nil }

    /// The slot of the lot at `position` in `client`'s list.
    @inline(__always)
    func find(_ position: UInt64, client: Int32, list: LotList) -> Int32? {
        if list.count == Self.indexed, let index = indexes[client] { return index.slots[position] }
        let (head, tail) = (list.head, list.tail)
        guard head >= 0 else { return nil }
        let newest = lots[Int(head)].position
        if newest == position { return head }
        if newest < position { return nil }
        let oldest = lots[Int(tail)].position
        if oldest == position { return tail }
        if oldest > position { return nil }
        if newest - position <= position - oldest {
            var slot = lots[Int(head)].next
            while slot >= 0 {
                let lot = lots[Int(slot)]
                if lot.position <= position { return lot.position == position ? slot : nil }
                slot = lot.next
            }
        } else {
            var slot = lots[Int(tail)].previous
            while slot >= 0 {
                let lot = lots[Int(slot)]
                if lot.position >= position { return lot.position == position ? slot : nil }
                slot = lot.previous
            }
        }
        return nil
    }

    /// Notes that nothing is left in the lot in `slot`: it leaves the spending order.
    mutating func emptied(_ slot: Int32, client: Int32, list: LotList) {
        guard list.count == Self.indexed else { return }
        ensureIndex(client, list)
        let lot = lots[Int(slot)]
        indexes[client]!.leaveOrder(position: lot.position, expiresAt: lot.expiresAt)
    }

    /// Takes the lot in `slot` out of `client`'s list and frees the slot.
    mutating func remove(_ slot: Int32, client: Int32, list: inout LotList) {
        ensureIndex(client, list)
        let removed = lots[Int(slot)]
        let after = removed.next
        let before = removed.previous
        if before >= 0 { lots[Int(before)].next = after } else { list.head = after }
        if after >= 0 { lots[Int(after)].previous = before } else { list.tail = before }
        if removed.key & PooledLot.reservedBit != 0 { reserved[slot] = nil }
        if removed.key & PooledLot.spentBit != 0 { spent[slot] = nil }
        if removed.key & PooledLot.wideBit != 0 { wide[slot] = nil }
        var freed = PooledLot.empty
        freed.next = free
        lots[Int(slot)] = freed
        free = slot
        live -= 1
        if list.count == Self.indexed {
            indexes[client]!.remove(position: removed.position, expiresAt: removed.expiresAt)
            let left = indexes[client]!.count
            if left < Self.indexUntil {
                indexes[client] = nil
                list.count = UInt8(left)
            }
        } else {
            list.count = max(list.count, 1) - 1  // never below zero, whatever a snapshot said
        }
    }

    /// The lots of the list ending at `tail`, oldest first (as values: their links cleared).
    func list(tail: Int32) -> [Lot] {
        var result: [Lot] = []
        var slot = tail
        while slot >= 0 {
            var lot = lot(slot)
            slot = lot.previous
            lot.next = -1
            lot.previous = -1
            result.append(lot)
        }
        return result
    }

    /// Checks `client`'s list: links both ways, positions ascending from the tail, the count,
    /// and its index if it has one. Stops the process with a message at the first fault.
    func checkInvariants(client: Int32, list: LotList) {
        var slot = list.tail
        var previous: Int32 = -1
        var entries: [(position: UInt64, expiresAt: Micros, slot: Int32, spendable: Bool)] = []
        while slot >= 0 {
            let lot = lot(slot)
            precondition(lot.next == previous, "lot pool: client \(client)'s list is not linked both ways at slot \(slot)")
            if let last = entries.last { precondition(last.position < lot.position, "lot pool: client \(client)'s lots out of order") }
            entries.append((lot.position, lot.expiresAt, slot, lot.remaining > 0))
            previous = slot
            slot = lot.previous
        }
        precondition(previous == list.head, "lot pool: client \(client)'s list does not end at its head")
        if list.count == Self.indexed {
            precondition(entries.count >= Self.indexUntil, "lot pool: client \(client) has an index for \(entries.count) lots")
            // (A restored state builds an index when its list first changes.)
            indexes[client]?.checkInvariants(lots: entries)
        } else {
            precondition(Int(list.count) == entries.count, "lot pool: client \(client) counts \(list.count) lots of \(entries.count)")
            precondition(entries.count < Self.indexFrom, "lot pool: client \(client) has \(entries.count) lots and no index")
            precondition(indexes[client] == nil, "lot pool: client \(client) has a stale index")
        }
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

