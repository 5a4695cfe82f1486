import LedgerStorage

/// The whole state of a ledger: every projection the engine keeps, rebuilt from the log by
/// ``apply(_:)`` alone. Nothing else changes it, so replaying the log gives the live state.
public struct LedgerState: Sendable {
    /// Every client's fixed-size record, by client number.
    package internal(set) var records = ChunkedArray<ClientRecord>()
    /// The facts filters read most, a column each (``RecordColumns``).
    public internal(set) var columns = RecordColumns()
    /// The clients' profile texts.
    package internal(set) var texts = TextArena()
    /// Every client's open lots.
    package internal(set) var lotPool = LotPool()
    /// Level names as the clients' records refer to them (interned: a record keeps one byte).
    package internal(set) var levelNames: [String] = []
    /// The rarer collections, only for the clients that have them.
    /// NPS ratings (the score, the comment) and notes, their texts in ``texts``.
    var clientNPS = ClientEntries()
    var clientNotes = ClientEntries()
    /// Client ids → their index in ``clients`` (groups of 4: a submit looks its client up by id
    /// each command, and decodes at most three keys for it).
    package internal(set) var clientIDs = IdTable(groupSize: 4)
    /// Who holds each phone and each card among live clients (keys confirmed against the profiles).
    var phoneIndex = HolderIndex()
    var cardIndex = HolderIndex()
    /// Purchase ids → their index in ``purchaseStates``.
    /// Groups of 16: only a return or a card reads a purchase id back.
    package internal(set) var purchaseIDs = IdTable(groupSize: 16)
    var purchaseStates = ChunkedArray<StoredPurchase>()
    /// What wide purchases paid and earned (see ``StoredPurchase``).
    var widePurchases: [Int32: (paid: Int64, accrued: Int64)] = [:]
    /// The bonuses spent on each receipt that spent some.
    var purchaseSpent = AscendingValues()
    /// For purchases that had a return: what the returns did.
    package internal(set) var returnTotals: [Int32: ReturnTotals] = [:]
    /// The whole ledger's figures as the core keeps them (the open orders are the order
    /// book's: see ``totals``).
    var coreTotals = Totals()
    /// The whole ledger's figures, kept as events apply (see ``Totals``).
    public var totals: Totals {
        var totals = coreTotals
        totals.openOrders = parts.orders.openCount
        return totals
    }
    /// The events of each return, by purchase and return id: a return id counts once.
    package internal(set) var returns: [ReturnKey: ClosedRange<UInt64>] = [:]
    /// The parts beside the client records: idempotency answers, orders, segments (see
    /// ``LedgerPart``).
    package internal(set) var parts: LedgerParts
    /// How many keys' bytes the state holds (see ``IdempotencyAnswers/keepsKeyBytes``).
    public var heldKeyCount: Int { parts.idempotency.heldCount }
    /// True for a state alone, that has no log to read idempotency keys back from (see
    /// ``IdempotencyAnswers/keepsKeyBytes``). Fixed when the state is made.
    public var keepsKeyBytes: Bool { parts.idempotency.keepsKeyBytes }
    /// Every order by id.
    public var orders: [String: OrderState] { parts.orders.orders }
    public var segmentDefinitions: [String: SegmentDefinition] { parts.segments.definitions }
    public internal(set) var rules = Rules()
    /// The position after the last applied event, and that event's time.
    public internal(set) var nextPosition: UInt64 = 0
    public internal(set) var lastEventAt: Micros = Int64.min
    /// The time the last advance step reached.
    public internal(set) var advancedTo: Micros = Int64.min
    /// The day the advance step last evaluated the segments that count days from today (not
    /// in the log: a new state evaluates them again, which records only differences).
    var segmentsTimeDay: Int64 = Int64.min
    /// Events by type code (codes are below 128).
    public internal(set) var typeCounts = [Int64](repeating: 0, count: 128)
    /// Events whose type or fields this reader did not know (skipped, and counted here).
    public internal(set) var unknownTypeEvents: Int64 = 0
    public internal(set) var unknownFields: Int64 = 0
    var schedule = Schedule()
    /// While true, `apply` leaves the caches that only decisions read (the due-time schedule,
    /// the level windows) alone; ``finishRebuild()`` builds them once, at the end of a replay,
    /// and ends it. Given when the state is made (`init(rebuilding:keepsKeyBytes:)`).
    package internal(set) var isRebuilding = false
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
    /// The return the command being applied answers to.
    var openReturn: ReturnKey?
    /// The client of the last event replayed from bytes (a lookup cache; see Replay.swift).
    var lastReplayedClient: Int32?
    /// False in a state that holds one client's events alone (``applyAlone(_:)``): its parts,
    /// the journal's indexes among them, are not kept.
    var keepsParts = true

    /// An empty state. `rebuilding`: it is about to replay a log (see ``isRebuilding``);
    /// `keepsKeyBytes`: it has no log to read idempotency keys back from (see ``keepsKeyBytes``).
    public init(rebuilding: Bool = false, keepsKeyBytes: Bool = true) {
        isRebuilding = rebuilding
        parts = LedgerParts(keepsKeyBytes: keepsKeyBytes, rebuilding: rebuilding)
    }

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
    /// Client `id`'s event positions below `before`, newest first, at most `limit` (the
    /// journal's index; empty for an unknown client); `after`, one of its events, starts the
    /// walk there (see ``ClientEvents/positions(of:before:limit:after:)``).
    public func eventPositions(of id: String, before: UInt64, limit: Int, after: UInt64? = nil) -> [UInt64] {
        guard let client = clientIndex(id) else { return [] }
        return parts.clientEvents.positions(of: client, before: before, limit: limit, after: after)
    }

    /// The journal's index of event types by block of positions.
    public var eventKinds: EventKindBlocks { parts.eventKinds }

    /// The positions of the custom and system events with this name and context values
    /// (`k=v` keys), ascending (the journal's index).
    public func namedEventPositions(name: String?, context: [String]) -> [UInt64] {
        parts.namedEvents.positions(name: name, context: context)
    }

    /// The ids of the clients in segment `name` now (nil: no segment has that name).
    public func members(ofSegment name: String) -> Set<String>? {
        parts.segments.members(of: name).map { Set($0.map { clientID(Int($0)) }) }
    }

    /// Every segment name an entry or assignment named (assigned segments have no definition).
    public var segmentNames: [String] { parts.segments.names }
    public func segments(of i: Int) -> Set<String> { parts.segments.segments(of: Int32(i)) }

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

    mutating func setHolder(_ key: String, _ holder: Int32, cards: Bool) {
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
    mutating func setAmounts(_ index: Int32, paid: Int64, accrued: Int64) {
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
        try parts.idempotency.answer(forKey: key, keyAt: keyAt)
    }

    /// Lets go of the bytes of the keys whose answers start below `end` (the log now has them),
    /// but for the newest ``HeldKeys/recentKept``.
    public mutating func releaseKeys(below end: UInt64) { parts.idempotency.release(below: end) }

    /// Every idempotency key with its answer (for tests and reports; not for hot paths). Keys
    /// the state does not hold are read with `keyAt` (see ``answer(forKey:keyAt:)``). When two
    /// entries carry one key, the later answers.
    public func idempotency() -> [String: IdempotentAnswer] {
        precondition(keepsKeyBytes, "this state does not keep its keys' bytes: ask with idempotency(keyAt:) and a reader of the log")
        return idempotency(keyAt: { _ in nil })
    }

    public func idempotency(keyAt: (UInt64) throws -> [UInt8]?) rethrows -> [String: IdempotentAnswer] {
        try parts.idempotency.all(keyAt: keyAt)
    }
}

extension LedgerState {
    /// Stops the process when any storage structure or part contradicts itself (tests call it
    /// after every command; each check walks its whole structure).
    public func checkInvariants() {
        records.checkInvariants()
        texts.checkInvariants()
        clientIDs.checkInvariants()
        precondition(clientIDs.count == records.count, "\(clientIDs.count) client ids for \(records.count) clients")
        phoneIndex.checkInvariants(clients: records.count, "phone holders")
        cardIndex.checkInvariants(clients: records.count, "card holders")
        for i in records.indices { lotPool.checkInvariants(client: Int32(i), list: records[i].lotList) }
        purchaseIDs.checkInvariants()
        purchaseStates.checkInvariants()
        precondition(purchaseIDs.count == purchaseStates.count, "\(purchaseIDs.count) purchase ids for \(purchaseStates.count) purchases")
        purchaseSpent.checkInvariants()
        clientNPS.checkInvariants(clients: records.count)
        clientNotes.checkInvariants(clients: records.count)
        parts.checkInvariants(clients: records.count)
        columns.check(records)
    }
}
