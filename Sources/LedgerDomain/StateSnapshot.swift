import LedgerStorage
import Dispatch
import LedgerBytes

/// The sections of a state's snapshot (data-format.md §13.3), in the order they are written
/// and read. An id is never reused for other content: a new layout is a new format version.
public enum SnapshotSection: UInt32, Sendable, CaseIterable {
    case head = 1, rules = 2, texts = 3, lots = 4, clientIDs = 5, clients = 6, holders = 7, purchases = 8, orders = 9,
         idempotency = 10, extras = 11, schedule = 12, segments = 13, clientEvents = 14, namedEvents = 15,
         eventKinds = 16, clientFacts = 17

    public var name: String {
        switch self {
        case .head: "head"
        case .rules: "rules"
        case .texts: "texts"
        case .lots: "lots"
        case .clientIDs: "client ids"
        case .clients: "clients"
        case .holders: "holders"
        case .purchases: "purchases"
        case .orders: "orders"
        case .idempotency: "idempotency"
        case .extras: "extras"
        case .schedule: "schedule"
        case .segments: "segments"
        case .clientEvents: "client events"
        case .namedEvents: "named events"
        case .eventKinds: "event kinds"
        case .clientFacts: "client facts"
        }
    }
}

extension LedgerState {
    /// The snapshot format's version: a state written by another version is not read.
    /// 2: the level windows as computed afresh, and the due-time schedule (section 12).
    /// 3: the parts' sections: segments (13) out of the rules and the extras, the open orders'
    /// count out of the head.
    /// 4: the journal's indexes: each client's events (14), custom and system events by name
    /// and by context value (15).
    /// 5: the journal's index of event types by block of positions (16).
    /// 6: section 14's steps as a chunked row table, used where they lie in the mapping.
    /// 7: the lifetime stages' thresholds among the rules (section 2).
    /// 8: the facts segment filters read beside the client records (17).
    public static let snapshotVersion: UInt16 = 8

    /// Writes one section of this state. What a rebuild does not keep (key bytes, the birthday
    /// scan's day, the last advance step's time) and the lot indexes are left out, and what
    /// only decisions read (the level windows, the due-time schedule) is written as computed
    /// afresh, so that a snapshot of a live state and one of the same log rebuilt are the same
    /// bytes, and a writer that opens from it needs to compute neither.
    public func writeSnapshot(_ section: SnapshotSection, to e: SectionEncoder) {
        switch section {
        case .head: writeHead(e)
        case .rules: writeRules(e)
        case .texts: texts.write(to: e)
        case .lots: lotPool.write(to: e)
        case .clientIDs: clientIDs.write(to: e)
        case .clients:
            // The level windows as a writer's open computes them, whoever writes (a live writer
            // keeps them as it goes, a rebuild not at all): the same bytes either way.
            let windows = lastEventAt == .min ? nil : recomputedWindows(at: lastEventAt)
            e.putChunkedRows(count: records.count, width: Self.clientRowWidth, chunkRows: ChunkedArray<ClientRecord>.elementsPerChunk) { i, row in
                Self.writeClientRow(records[i], row, window: windows.map { ($0.starts[i], $0.counts[i], $0.sums[i]) } ?? (-1, 0, 0))
            }
        case .holders:
            phoneIndex.write(to: e)
            cardIndex.write(to: e)
        case .purchases: writePurchases(e)
        case .extras: writeExtras(e)
        case .schedule: writeSchedule(e)
        case .orders, .idempotency, .segments, .clientEvents, .namedEvents, .eventKinds, .clientFacts:
            let wrote = parts.write(section, to: e)
            assert(wrote, "a part writes section \(section.name)")
        }
    }

    /// The state a snapshot holds, each section given by `section`, every reference checked;
    /// as a rebuild leaves it (call ``finishRebuild()`` to decide with it).
    /// With `owner`, the sections lie in a private writable mapping `owner` keeps alive, and
    /// the large row tables are used where they lie (when their rows are the records as they lie
    /// in memory), not copied.
    public init(snapshot section: (SnapshotSection) -> UnsafeRawBufferPointer, owner: AnyObject? = nil) throws(SectionError) {
        // As a rebuild's end leaves it: its windows and schedule are in the snapshot, and the
        // log it belongs to keeps the keys' bytes.
        self.init(rebuilding: false, keepsKeyBytes: false)
        func decoder(_ s: SnapshotSection) -> SectionDecoder {
            var d = SectionDecoder(section(s), section: s.name)
            d.owner = owner
            return d
        }
        var d = decoder(.head)
        try readHead(&d)
        try d.end()
        d = decoder(.rules)
        try readRules(&d)
        try d.end()
        d = decoder(.texts)
        let textStarts = try texts.read(from: &d)
        try d.end()
        // The lot pool (whose link check is the open's longest step) on the second core,
        // while this thread reads the rest.
        let lots = LotRestore(bytes: section(.lots), owner: owner)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { lots.run() }
        do throws(SectionError) {
            try readClientsAndTheRest(decoder, textStarts: textStarts, owner: owner)
        } catch {
            group.wait()   // (the bytes it reads stay the caller's until then)
            throw error
        }
        group.wait()
        lotPool = try lots.result!.get()
        try checkClientLinks()
        columns = RecordColumns(records)
    }

    private mutating func readClientsAndTheRest(_ decoder: (SnapshotSection) -> SectionDecoder, textStarts: [[UInt64]],
                                                owner: AnyObject?) throws(SectionError) {
        var d = decoder(.clientIDs)
        clientIDs = try IdTable(from: &d, groupSize: 4, "client ids")
        try d.end()
        d = decoder(.clients)
        records = try Self.readClients(&d, texts: textStarts, levels: levelNames.count, owner: owner)
        try d.end()
        guard records.count == clientIDs.count else { throw SectionError("clients", "\(records.count) clients for \(clientIDs.count) ids") }
        d = decoder(.holders)
        phoneIndex = try HolderIndex(from: &d, clients: records.count, "phone holders")
        cardIndex = try HolderIndex(from: &d, clients: records.count, "card holders")
        try d.end()
        d = decoder(.purchases)
        try readPurchases(&d, owner: owner)
        try d.end()
        parts = try LedgerParts(snapshot: decoder, clients: records.count)
        d = decoder(.extras)
        try readExtras(&d, texts: textStarts)
        try d.end()
        d = decoder(.schedule)
        try readSchedule(&d)
        try d.end()
    }

    // MARK: head

    private func writeHead(_ e: SectionEncoder) {
        e.put(nextPosition)
        e.put(lastEventAt)
        e.put(birthdayBonusSince)
        e.put(unknownTypeEvents)
        e.put(unknownFields)
        e.putArray(typeCounts)
        e.put(Int64(coreTotals.clients))
        e.put(Int64(coreTotals.blockedClients))
        e.put(Int64(coreTotals.deletedClients))
        Self.writeBalances(coreTotals.balances, e)
    }

    private mutating func readHead(_ d: inout SectionDecoder) throws(SectionError) {
        nextPosition = try d.get(UInt64.self, "the next position")
        lastEventAt = try d.get(Int64.self, "the last event's time")
        birthdayBonusSince = try d.get(Int64.self, "the birthday bonus's start")
        unknownTypeEvents = try d.get(Int64.self, "the unknown events")
        unknownFields = try d.get(Int64.self, "the unknown fields")
        typeCounts = try d.getArray(Int64.self, "the counts by type")
        guard typeCounts.count == 128 else { throw d.fail("\(typeCounts.count) counts by type, expected 128") }
        coreTotals.clients = Int(try d.get(Int64.self, "the client count"))
        coreTotals.blockedClients = Int(try d.get(Int64.self, "the blocked count"))
        coreTotals.deletedClients = Int(try d.get(Int64.self, "the deleted count"))
        coreTotals.balances = try Self.readBalances(&d, "the totals")
    }

    private static func writeBalances(_ b: Balances, _ e: SectionEncoder) {
        for value in [b.available, b.pending, b.reserved, b.used, b.expired, b.accrued, b.cancelled, b.debt] { e.put(value) }
    }

    private static func readBalances(_ d: inout SectionDecoder, _ what: String) throws(SectionError) -> Balances {
        var b = Balances()
        b.available = try d.get(Int64.self, "\(what): available")
        b.pending = try d.get(Int64.self, "\(what): pending")
        b.reserved = try d.get(Int64.self, "\(what): reserved")
        b.used = try d.get(Int64.self, "\(what): used")
        b.expired = try d.get(Int64.self, "\(what): expired")
        b.accrued = try d.get(Int64.self, "\(what): accrued")
        b.cancelled = try d.get(Int64.self, "\(what): cancelled")
        b.debt = try d.get(Int64.self, "\(what): debt")
        return b
    }

    // MARK: rules, level names

    private func writeRules(_ e: SectionEncoder) {
        e.put(rules.version)
        e.put(rules.accrualBasisPoints)
        e.put(rules.pendingDays)
        e.put(rules.lifetimeDays)
        e.put(UInt8(ReturnPolicy.allCases.firstIndex(of: rules.returnPolicy)!))
        e.put(rules.birthdayBonus)
        e.put(rules.welcomeBonus)
        e.put(rules.levelBasisIsCount)
        e.put(rules.levelWindowDays)
        e.put(rules.newClientDays)
        e.put(rules.activeDays)
        e.put(rules.lostDays)
        e.put(UInt64(rules.levels.count))
        for level in rules.levels {
            e.putText(level.name)
            e.put(level.threshold)
            e.put(level.percentBasisPoints != nil)
            e.put(level.percentBasisPoints ?? 0)
        }
        e.put(UInt64(levelNames.count))
        for name in levelNames { e.putText(name) }
    }

    private mutating func readRules(_ d: inout SectionDecoder) throws(SectionError) {
        var r = Rules()
        r.version = try d.get(Int64.self, "the rules' version")
        r.accrualBasisPoints = try d.get(Int64.self, "the accrual rate")
        r.pendingDays = try d.get(Int64.self, "the pending days")
        r.lifetimeDays = try d.get(Int64.self, "the lifetime days")
        let policy = Int(try d.get(UInt8.self, "the return policy"))
        guard policy < ReturnPolicy.allCases.count else { throw d.fail("return policy \(policy) is unknown") }
        r.returnPolicy = ReturnPolicy.allCases[policy]
        r.birthdayBonus = try d.get(Int64.self, "the birthday bonus")
        r.welcomeBonus = try d.get(Int64.self, "the welcome bonus")
        r.levelBasisIsCount = try d.getFlag("the level basis")
        r.levelWindowDays = try d.get(Int64.self, "the level window")
        r.newClientDays = try d.get(Int64.self, "the days a client is new")
        r.activeDays = try d.get(Int64.self, "the days a client stays active")
        r.lostDays = try d.get(Int64.self, "the days before a client is lost")
        guard (0...Rules.daysMax).contains(r.newClientDays), (0...Rules.daysMax).contains(r.activeDays),
              (r.activeDays...Rules.daysMax).contains(r.lostDays) else { throw d.fail("a lifetime stage's threshold is out of its range") }
        guard (0...Rules.daysMax).contains(r.pendingDays), (0...Rules.daysMax).contains(r.lifetimeDays), (0...Rules.daysMax).contains(r.levelWindowDays),
              (0...10_000).contains(r.accrualBasisPoints) else { throw d.fail("a rule is out of its range") }
        r.levels = []
        for k in 0..<(try d.getCount("levels", width: 14)) {
            let name = try d.getText("level \(k)'s name")
            let threshold = try d.get(Int64.self, "level \(k)'s threshold")
            let hasPercent = try d.getFlag("whether level \(k) has a rate")
            let percent = try d.get(Int64.self, "level \(k)'s rate")
            guard (0...10_000).contains(percent) else { throw d.fail("level \(k)'s rate is out of range") }
            r.levels.append(LevelRule(name: name, threshold: threshold, percentBasisPoints: hasPercent ? percent : nil))
        }
        rules = r
        levelNames = []
        for k in 0..<(try d.getCount("level names", width: 4)) { levelNames.append(try d.getText("level name \(k)")) }
        guard levelNames.count < 255 else { throw d.fail("\(levelNames.count) level names, at most 254") }
    }

    // MARK: clients

    /// A client's row: 256 bytes (data-format.md §13.3.6). The level window (bytes 32–47) is
    /// the one computed afresh as of the last event's time (``recomputedWindows(at:)``).
    static let clientRowWidth = 256

    static func writeClientRow(_ c: ClientRecord, _ row: UnsafeMutableRawBufferPointer, window: (start: Int32, count: Int32, sum: Int64)) {
            row.put(c.lastEventAt, 0)
            row.put(c.events, 8)
            row.put(c.lotHead, 12)
            row.put(c.lotTail, 16)
            row.put(c.activationHint, 20)
            row.put(c.firstPurchase, 24)
            row.put(c.lastPurchase, 28)
            row.put(window.start, 32)
            row.put(window.count, 36)
            row.put(window.sum, 40)
            row.put(c.birthdayDay, 48)
            row.put(c.lastBirthdayYear, 52)
            row.put(UInt8(ParticipationStatus.allCases.firstIndex(of: c.status)!), 56)
            row.put(UInt8(c.blocked ? 1 : 0), 57)
            row.put(UInt8(c.deleted ? 1 : 0), 58)
            row.put(UInt8(c.levelManual ? 1 : 0), 59)
            row.put(c.walletBits, 60)
            row.put(c.levelCode, 61)
            row.put(c.genderCode, 62)
            row.put(c.lotCount, 63)
            let b = c.balances
            for (k, value) in [b.available, b.pending, b.reserved, b.used, b.expired, b.accrued, b.cancelled, b.debt].enumerated() {
                row.put(value, 64 + 8 * k)
            }
            let s = c.stats
            row.put(s.purchaseSum, 128)
            row.put(s.returnSum, 136)
            row.put(Int32(s.purchaseCount), 144)
            row.put(Int32(s.returnCount), 148)
            row.put(s.maxCheck, 152)
            row.put(s.firstPurchaseAt ?? .min, 160)
            row.put(s.lastPurchaseAt ?? .min, 168)
            row.put(c.registeredAt, 176)
            row.put(c.profile.chunk, 184)
            row.put(c.profile.offset, 188)
            let ch = c.channels
            for (k, value) in [ch.lastContacts.0, ch.lastContacts.1, ch.lastContacts.2, ch.lastContacts.3, ch.lastContacts.4].enumerated() {
                row.put(value, 192 + 8 * k)
            }
            for (k, value) in [ch.receivedCounts.0, ch.receivedCounts.1, ch.receivedCounts.2, ch.receivedCounts.3, ch.receivedCounts.4].enumerated() {
                row.put(value, 232 + 4 * k)
            }
            row.put(ch.used, 252)
            row.put(ch.subscribed, 253)
    }

    private static func readClients(_ d: inout SectionDecoder, texts: [[UInt64]], levels: Int, owner: AnyObject?) throws(SectionError) -> ChunkedArray<ClientRecord> {
        let (count, bytes) = try d.getChunkedRows("clients", width: clientRowWidth, chunkRows: ChunkedArray<ClientRecord>.elementsPerChunk)
        let fail = d.fail
        let mapping = owner != nil && count > 0 && clientRowsMap
        var records = ChunkedArray<ClientRecord>()
        for i in 0..<count {
            let c = try clientRecord(RowReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[(i * clientRowWidth)..<((i + 1) * clientRowWidth)])), i, texts: texts, levels: levels, fail)
            if !mapping { records.append(c) }
        }
        if mapping, let owner { return ChunkedArray(mapping: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: count, owner: owner) }
        return records
    }

    /// A client row read and checked (every byte that names something is within what it names).
    private static func clientRecord(_ row: RowReader, _ i: Int, texts: [[UInt64]], levels: Int, _ fail: (String) -> SectionError) throws(SectionError) -> ClientRecord {
            let status = Int(row.get(UInt8.self, 56))
            let flags = (row.get(UInt8.self, 57), row.get(UInt8.self, 58), row.get(UInt8.self, 59))
            guard status < ParticipationStatus.allCases.count, flags.0 | flags.1 | flags.2 <= 1 else { throw fail("client \(i): a status or flag byte is out of range") }
            var c = ClientRecord(status: ParticipationStatus.allCases[status], registeredAt: row.get(Int64.self, 176))
            c.lastEventAt = row.get(Int64.self, 0)
            c.events = row.get(Int32.self, 8)
            c.lotHead = row.get(Int32.self, 12)
            c.lotTail = row.get(Int32.self, 16)
            c.activationHint = row.get(Int32.self, 20)
            c.firstPurchase = row.get(Int32.self, 24)
            c.lastPurchase = row.get(Int32.self, 28)
            c.windowStart = row.get(Int32.self, 32)
            c.windowCount = row.get(Int32.self, 36)
            c.windowSum = row.get(Int64.self, 40)
            c.birthdayDay = row.get(Int32.self, 48)
            c.lastBirthdayYear = row.get(Int32.self, 52)
            c.blocked = flags.0 == 1
            c.deleted = flags.1 == 1
            c.levelManual = flags.2 == 1
            c.walletBits = row.get(UInt8.self, 60)
            c.levelCode = row.get(UInt8.self, 61)
            c.genderCode = row.get(UInt8.self, 62)
            c.lotCount = row.get(UInt8.self, 63)
            guard Int(c.levelCode) <= levels, Int(c.genderCode) <= Gender.allCases.count, c.walletBits >> WalletPlatform.allCases.count == 0 else {
                throw fail("client \(i): its level, gender or Wallet byte is out of range")
            }
            var b = Balances()
            b.available = row.get(Int64.self, 64)
            b.pending = row.get(Int64.self, 72)
            b.reserved = row.get(Int64.self, 80)
            b.used = row.get(Int64.self, 88)
            b.expired = row.get(Int64.self, 96)
            b.accrued = row.get(Int64.self, 104)
            b.cancelled = row.get(Int64.self, 112)
            b.debt = row.get(Int64.self, 120)
            c.balances = b
            var s = ClientStats()
            s.purchaseSum = row.get(Int64.self, 128)
            s.returnSum = row.get(Int64.self, 136)
            s.purchaseCount = Int64(row.get(Int32.self, 144))
            s.returnCount = Int64(row.get(Int32.self, 148))
            s.maxCheck = row.get(Int64.self, 152)
            let first = row.get(Int64.self, 160), last = row.get(Int64.self, 168)
            s.firstPurchaseAt = first == .min ? nil : first
            s.lastPurchaseAt = last == .min ? nil : last
            c.stats = s
            c.profile = TextRef(chunk: row.get(UInt32.self, 184), offset: row.get(UInt32.self, 188))
            guard TextArena.names(c.profile, texts) else { throw fail("client \(i): its profile names no text") }
            var ch = ChannelStates()
            ch.lastContacts = (row.get(Int64.self, 192), row.get(Int64.self, 200), row.get(Int64.self, 208), row.get(Int64.self, 216), row.get(Int64.self, 224))
            ch.receivedCounts = (row.get(Int32.self, 232), row.get(Int32.self, 236), row.get(Int32.self, 240), row.get(Int32.self, 244), row.get(Int32.self, 248))
            ch.used = row.get(UInt8.self, 252)
            ch.subscribed = row.get(UInt8.self, 253)
            guard ch.used >> Channel.allCases.count == 0, ch.subscribed & ~ch.used == 0 else { throw fail("client \(i): its channel bits are out of range") }
            c.channels = ch
            return c
    }

    /// Whether a client row is the record as it lies in memory (all but the last two bytes):
    /// then a snapshot's rows are used where they lie, mapped, not copied.
    static let clientRowsMap: Bool = {
        guard MemoryLayout<ClientRecord>.stride == clientRowWidth else { return false }
        var c = ClientRecord(status: .subscriber, registeredAt: 0x5152_5354_5556_5758)
        c.lastEventAt = 0x0102_0304_0506_0708; c.events = 0x1112_1314; c.lotHead = 0x2122_2324; c.lotTail = 0x3132_3334
        c.activationHint = 0x4142_4344; c.firstPurchase = 0x6162_6364; c.lastPurchase = 0x7172_7374
        c.birthdayDay = 0x0A0B_0C0D; c.lastBirthdayYear = 0x1A1B_1C1D; c.blocked = true; c.levelManual = true
        c.walletBits = 2; c.levelCode = 7; c.genderCode = 2; c.lotCount = 9
        var b = Balances()
        (b.available, b.pending, b.reserved, b.used, b.expired, b.accrued, b.cancelled, b.debt) = (11, 12, 13, 14, 15, 16, 17, 18)
        c.balances = b
        var st = ClientStats()
        st.purchaseSum = 0x2A2B; st.returnSum = 0x3A3B; st.purchaseCount = 0x4A4B; st.returnCount = 0x5A5B; st.maxCheck = 0x6A6B
        st.firstPurchaseAt = 0x7A7B; st.lastPurchaseAt = 0x7C7D
        c.stats = st
        c.profile = TextRef(chunk: 0x0E0F, offset: 0x1E1F)
        c.channels.lastContacts = (1, 2, 3, 4, 5)
        c.channels.receivedCounts = (6, 7, 8, 9, 10)
        c.channels.used = 0x1F
        c.channels.subscribed = 0x15
        c.windowStart = 0x2D2E_2F30; c.windowCount = 0x3D3E_3F40; c.windowSum = 0x4D4E_4F50
        return rowsMatchMemory(c, width: clientRowWidth, compared: 254) { c, row in
            writeClientRow(c, row, window: (c.windowStart, c.windowCount, c.windowSum))
        }
    }()

    /// The links of each client into the lot pool and the purchases.
    private func checkClientLinks() throws(SectionError) {
        let purchases = Int32(purchaseStates.count)
        let isFree = try lotPool.freeSlots()
        for i in records.indices {
            let c = records[i]
            guard lotPool.holds(c.lotList, isFree: isFree), c.activationHint >= -1, Int(c.activationHint) < lotPool.lots.count else {
                throw SectionError("clients", "client \(i)'s lot list is not one of the pool's")
            }
            guard (-1..<purchases).contains(c.firstPurchase), (-1..<purchases).contains(c.lastPurchase) else {
                throw SectionError("clients", "client \(i) names a purchase that is not there")
            }
        }
    }
}

/// The lot pool's section read on another thread (see `LedgerState.init(snapshot:owner:)`):
/// the bytes and their owner are only read, and the result is taken after the thread is done.
private final class LotRestore: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    let owner: AnyObject?
    var result: Result<LotPool, SectionError>?

    init(bytes: UnsafeRawBufferPointer, owner: AnyObject?) {
        self.bytes = bytes
        self.owner = owner
    }

    func run() {
        result = Result { () throws(SectionError) -> LotPool in
            var d = SectionDecoder(bytes, section: SnapshotSection.lots.name)
            let pool = try LotPool(from: &d, owner: owner)
            try d.end()
            return pool
        }
    }
}
