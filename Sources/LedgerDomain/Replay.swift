import LedgerStorage
import Glibc

extension LedgerState {
    /// Applies one event straight from its bytes in the log, as a rebuild does. For the most
    /// frequent types (registrations, purchases, accruals, activations, expiries, write-offs,
    /// mailings, level changes, Wallet, messenger subscriptions, custom events) it reads only
    /// the fields the state keeps and makes no String for them; it changes the state through
    /// the same functions as ``apply(_:)``, so the result is the same. Any other type goes through the full decoder and ``apply(_:)``. Returns how many
    /// fields it skipped as unknown; throws ``BodyError/unknownType(_:)`` for a type this build
    /// does not know (the caller skips it) and other body errors for damage.
    public mutating func replay(position: UInt64, at: Micros, typeCode: UInt32, client: UnsafeRawBufferPointer,
                                key: UnsafeRawBufferPointer?, body: UnsafeRawBufferPointer) throws(BodyError) -> Int {
        guard let kind = EventKind(rawValue: typeCode) else { throw .unknownType(typeCode) }
        let header = try EventCodec.header(body)
        let derived = header.derived
        if kind == .clientRegistered, let number = header.clientNumber {
            guard Int(number) == records.count else { throw .malformed("client number \(number) given at registration, expected \(records.count)") }
            var r = FieldReader(UnsafeRawBufferPointer(rebasing: body[header.fieldsStart...]))
            let registration = try RegistrationBytes.read(&r)
            // The id is new, or the body is refused before anything changes.
            guard clientIDs.find(client) == nil else { throw .malformed("client '\(String(decoding: client, as: UTF8.self))' registers a second time") }
            begin(position: position, at: at, typeCode: typeCode)
            noteCommand(position: position, derived: derived)
            registerFromBytes(at: at, client: client, registration)
            lastReplayedClient = Int32(records.count - 1)
            applyToParts(position: position, at: at, kind: kind, derived: derived, client: lastReplayedClient, key: key, event: nil, body: body)
            return r.skippedFields
        }
        if Self.hasFastPath(kind), let index = try replayedClient(header.clientNumber, key: client) {
            var r = FieldReader(UnsafeRawBufferPointer(rebasing: body[header.fieldsStart...]))
            let i = Int(index)
            let change = try Self.readFast(kind, &r)
            // What the state refuses to hold twice, or beyond its limits, is refused here, before
            // anything changes: a log can be whole and still say it (a damaged writer).
            var newPurchase: Int32 = -1
            switch change {
            case .purchase(let id, _, _):
                let (purchase, isNew) = purchaseIDs.findOrInsert(id)
                guard isNew else { throw .malformed("purchase '\(String(decoding: id, as: UTF8.self))' is recorded a second time") }
                newPurchase = purchase
            case .level(let to, _):
                try checkLevelName(to)
            default:
                break
            }
            begin(position: position, at: at, typeCode: typeCode)
            noteCommand(position: position, derived: derived)
            touch(i, at: at)
            switch change {
            case .purchase(_, let paid, let spent):
                applyPurchase(i, index: newPurchase, at: at, paid: paid, spent: spent)
            case .accrual(let amount, let reason, let activatesAt, let expiresAt, let source, let debtPaid):
                // A purchase's accrual follows the purchase: try the last one before hashing.
                let last = Int32(purchaseStates.count - 1)
                let purchase = reason == .purchase || reason == .refund
                    ? source.flatMap { purchaseIDs.has(last, key: $0) ? last : purchaseIDs.find($0) } : nil
                applyAccrual(i, position: position, at: at, amount: amount, reason: reason, activatesAt: activatesAt,
                             expiresAt: expiresAt, debtPaid: debtPaid, purchase: purchase)
                if reason == .birthday, let year = Self.birthdayYear(source: source, at: at) { decideBirthday(i, year: year) }
            case .activation(let lot, let debtPaid):
                applyActivation(i, lot: lot, debtPaid: debtPaid)
            case .expiry(let lot, let amount):
                applyExpiry(i, lot: lot, amount: amount)
            case .writeOff(let amount, let takes):
                applyWriteOff(i, amount: amount, takes: takes)
            case .contact(let channel, let delivered):
                applyContact(i, channel: channel, delivered: delivered, at: at)
            case .level(let to, let manual):
                applyLevel(i, to: to, manual: manual)
            case .subscription(let channel, let subscribed):
                applySubscription(i, channel: channel, subscribed: subscribed)
            case .wallet(let platform, let installed):
                applyWallet(i, platform: platform, installed: installed)
            case .none:
                break
            }
            applyToParts(position: position, at: at, kind: kind, derived: derived, client: index, key: key, event: nil, body: body)
            return r.skippedFields
        }
        let decoded = try EventCodec.decode(typeCode: typeCode, body, forReplay: true)
        if let number = decoded.clientNumber, kind != .clientRegistered {
            guard Int(number) < records.count else { throw .malformed("client number \(number) is not registered") }
        }
        let record = EventRecord(position: position, at: at, client: String(decoding: client, as: UTF8.self),
                                 idempotencyKey: key.map { String(decoding: $0, as: UTF8.self) }, derived: decoded.derived,
                                 event: decoded.event, clientNumber: decoded.clientNumber)
        if kind == .clientRegistered, let number = decoded.clientNumber, Int(number) != records.count {
            throw .malformed("client number \(number) given at registration, expected \(records.count)")
        }
        switch decoded.event {
        case .clientRegistered:
            guard clientIDs.find(client) == nil else { throw .malformed("client '\(record.client)' registers a second time") }
        case .purchaseMade(let p):
            guard purchaseIDs.find(p.purchase) == nil else { throw .malformed("purchase '\(p.purchase)' is recorded a second time") }
        case .levelChanged(let change):
            try checkLevelName(change.to)
        default:
            break
        }
        apply(record)
        return decoded.skippedFields
    }

    /// A level name the state can take: known, or one more while fewer than 255 are.
    private func checkLevelName<Name: Collection<UInt8>>(_ name: Name?) throws(BodyError) {
        guard let name, levelNames.count >= 255 else { return }
        guard levelNames.contains(where: { $0.utf8.elementsEqual(name) }) else {
            throw .malformed("a 256th level name, '\(String(decoding: name, as: UTF8.self))' (at most 255)")
        }
    }

    private func checkLevelName(_ name: String?) throws(BodyError) { try checkLevelName(name?.utf8) }

    /// The client of a fast-path event: its number when the body carries one (version 2),
    /// else found by id, comparing with the previous event's client before hashing.
    @inline(__always)
    private mutating func replayedClient(_ number: Int32?, key: UnsafeRawBufferPointer) throws(BodyError) -> Int32? {
        guard let number else { return cachedClient(key) }
        guard Int(number) < records.count else { throw .malformed("client number \(number) is not registered") }
        return number
    }

    /// The client of the previous fast-path event is most often the client of this one (a
    /// command's derived events follow it): compare before hashing.
    private mutating func cachedClient(_ key: UnsafeRawBufferPointer) -> Int32? {
        if let last = lastReplayedClient, clientIDs.has(last, key: key) { return last }
        lastReplayedClient = clientIDs.find(key)
        return lastReplayedClient
    }

    /// What a fast-path event changes, read before anything is applied (so a damaged body
    /// changes nothing).
    enum FastChange {
        case purchase(id: UnsafeRawBufferPointer, paid: Int64, spent: Int64)
        case accrual(amount: Int64, reason: AccrualReason, activatesAt: Micros, expiresAt: Micros, source: UnsafeRawBufferPointer?, debtPaid: Int64)
        case activation(lot: UInt64, debtPaid: Int64)
        case expiry(lot: UInt64, amount: Int64)
        case writeOff(amount: Int64, takes: [LotTake])
        case contact(Channel, delivered: Bool)
        case level(String?, manual: Bool)
        case subscription(Channel, subscribed: Bool)
        case wallet(WalletPlatform, installed: Bool)
        case none
    }

    static func hasFastPath(_ kind: EventKind) -> Bool {
        switch kind {
        case .purchaseMade, .bonusAccrued, .bonusActivated, .bonusExpired, .bonusWrittenOff, .levelChanged,
             .mailingSent, .mailingDelivered, .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed,
             .messengerSubscribed, .messengerUnsubscribed, .walletInstalled, .walletRemoved, .custom:
            true
        default:
            false
        }
    }

    /// The names of the enumerations the fast path reads, as bytes: matched without making a
    /// String (the reason of every accrual, the channel of every mailing event).
    private static let reasonNames = AccrualReason.allCases.map { (Array($0.rawValue.utf8), $0) }
    private static let channelNames = Channel.allCases.map { (Array($0.rawValue.utf8), $0) }
    private static let platformNames = WalletPlatform.allCases.map { (Array($0.rawValue.utf8), $0) }

    @inline(__always)
    private static func match<E>(_ bytes: UnsafeRawBufferPointer, _ names: [([UInt8], E)]) -> E? {
        for (name, value) in names where name.count == bytes.count {
            if name.withUnsafeBytes({ memcmp($0.baseAddress!, bytes.baseAddress!, bytes.count) == 0 }) { return value }
        }
        return nil
    }

    /// An enumeration's value from its name's bytes: matched as bytes, else read as a String
    /// (so that an unknown name is refused naming the field).
    @inline(__always)
    private static func named<E: RawRepresentable>(_ bytes: UnsafeRawBufferPointer, _ names: [([UInt8], E)],
                                                   _ field: String) throws(BodyError) -> E where E.RawValue == String {
        if let value = match(bytes, names) { return value }
        return try EventCodec.enumValue(String(decoding: bytes, as: UTF8.self), field)
    }

    /// The one field of a body whose only field is an enumeration (messenger and Wallet
    /// events); nil when the body has none. Other fields are skipped.
    private static func onlyField<E: RawRepresentable>(_ r: inout FieldReader, _ names: [([UInt8], E)],
                                                       _ field: String) throws(BodyError) -> E? where E.RawValue == String {
        var value: E? = nil
        while let (tag, wire) = try r.next() {
            switch SingleField(rawValue: tag) {
            case .value?: value = try named(try r.bytes(wire), names, field)
            case nil: try r.skip(wire)
            }
        }
        return value
    }

    /// What a fast-path event changes, reading only the fields the state keeps (by the same
    /// tags as the codec: see ``FieldTag``), and passing over the others without making them.
    static func readFast(_ kind: EventKind, _ r: inout FieldReader) throws(BodyError) -> FastChange {
        switch kind {
        case .purchaseMade: return try readPurchase(&r)
        case .bonusAccrued: return try readAccrual(&r)
        case .bonusActivated:
            var lot: UInt64 = 0, debtPaid: Int64 = 0
            while let (tag, wire) = try r.next() {
                switch ActivationField(rawValue: tag) {
                case .lot?: lot = try r.uint(wire)
                case .debtPaid?: debtPaid = try r.int(wire)
                case .amount?: try r.pass(wire)
                case nil: try r.skip(wire)
                }
            }
            return .activation(lot: lot, debtPaid: debtPaid)
        case .bonusExpired:
            let e = try Expiry.read(&r)
            return .expiry(lot: e.lot, amount: e.amount)
        case .bonusWrittenOff:
            let o = try WriteOff.read(&r, brief: true)
            return .writeOff(amount: o.amount, takes: o.lots)
        case .mailingSent, .mailingDelivered, .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed:
            return try readMailing(kind, &r)
        case .levelChanged:
            var to: String? = nil
            var manual = false
            while let (tag, wire) = try r.next() {
                switch LevelChangeField(rawValue: tag) {
                case .to?: to = try r.string(wire)
                case .manual?: manual = try r.uint(wire) != 0
                case .from?: try r.pass(wire)
                case nil: try r.skip(wire)
                }
            }
            return .level(to, manual: manual)
        case .messengerSubscribed, .messengerUnsubscribed:
            // A body without a channel reads as telegram, as the decoder reads it.
            let channel = try Self.onlyField(&r, Self.channelNames, "channel") ?? .telegram
            return .subscription(channel, subscribed: kind == .messengerSubscribed)
        case .walletInstalled, .walletRemoved:
            guard let platform = try Self.onlyField(&r, Self.platformNames, "platform") else { throw .badValue("platform '' is unknown") }
            return .wallet(platform, installed: kind == .walletInstalled)
        case .custom:
            // Nothing of a custom event changes the state: its fields are walked over, so a
            // body the decoder would refuse is refused here as well.
            _ = try NamedEvent.read(&r, brief: true)
            return .none
        default:
            return .none
        }
    }

    private static func readPurchase(_ r: inout FieldReader) throws(BodyError) -> FastChange {
        var id = UnsafeRawBufferPointer(start: nil, count: 0)
        var paid: Int64 = 0, spent: Int64 = 0
        while let (tag, wire) = try r.next() {
            switch PurchaseField(rawValue: tag) {
            case .purchase?: id = try r.bytes(wire)
            case .paid?: paid = try r.int(wire)
            case .bonusesSpent?: spent = try r.int(wire)
            case .total?, .store?, .seller?, .items?, .promotion?, .promoCode?: try r.pass(wire)
            case nil: try r.skip(wire)
            }
        }
        return .purchase(id: id, paid: paid, spent: spent)
    }

    private static func readAccrual(_ r: inout FieldReader) throws(BodyError) -> FastChange {
        var amount: Int64 = 0, activatesAt: Micros = 0, expiresAt: Micros = 0, debtPaid: Int64 = 0
        var reason = AccrualReason.manual
        var source: UnsafeRawBufferPointer? = nil
        while let (tag, wire) = try r.next() {
            switch AccrualField(rawValue: tag) {
            case .amount?: amount = try r.int(wire)
            case .reason?: reason = try Self.named(try r.bytes(wire), Self.reasonNames, "reason")
            case .activatesAt?: activatesAt = try r.int(wire)
            case .expiresAt?: expiresAt = try r.int(wire)
            case .source?: source = try r.bytes(wire)
            case .debtPaid?: debtPaid = try r.int(wire)
            case .comment?, .operatorName?, .customExpiry?: try r.pass(wire)
            case nil: try r.skip(wire)
            }
        }
        return .accrual(amount: amount, reason: reason, activatesAt: activatesAt, expiresAt: expiresAt, source: source, debtPaid: debtPaid)
    }

    private static func readMailing(_ kind: EventKind, _ r: inout FieldReader) throws(BodyError) -> FastChange {
        var channel = Channel.email
        while let (tag, wire) = try r.next() {
            switch MailingField(rawValue: tag) {
            case .channel?: channel = try Self.named(try r.bytes(wire), Self.channelNames, "channel")
            case .mailing?, .kind?, .error?: try r.pass(wire)
            case nil: try r.skip(wire)
            }
        }
        switch kind {
        case .mailingSent: return .contact(channel, delivered: false)
        case .mailingDelivered: return .contact(channel, delivered: true)
        default: return .none
        }
    }
}

extension LedgerState {
    /// Hints the CPU to fetch the parts of the client record an event is about to touch (by
    /// the client number its body carries): the first cache line, which every event changes,
    /// and the line its type changes. Changes nothing; a body that does not parse is not
    /// prefetched (the replay reports it).
    /// (`mutating` only so that a caller holding the state `inout` does not copy it to call this.)
    @inline(__always)
    public mutating func prefetchClient(typeCode: UInt32, body: UnsafeRawBufferPointer) {
        guard let number = EventCodec.clientNumber(body) else { return }
        let line: Int
        switch typeCode {
        case 1...8: line = Self.balancesOffset
        case 20...27: line = Self.channelsOffset
        case 40, 41: line = Self.statsOffset
        default: line = 0
        }
        records.prefetch(Int(number), offsets: 0, line)
        // The columns the event writes (``RecordColumns``, ``ClientFacts``), each its own line.
        let n = Int(number)
        guard n < columns.count else { return }
        switch typeCode {
        case 1...8:
            columns.available.prefetch(n, offsets: 0, 0)
        case 40, 41:
            columns.purchaseSums.prefetch(n, offsets: 0, 0)
            columns.purchaseCounts.prefetch(n, offsets: 0, 0)
            columns.lastPurchaseDays.prefetch(n, offsets: 0, 0)
            if typeCode == 40, n < parts.facts.columns.count { parts.facts.columns.prefetch(n, offsets: 0, 0) }
        case 21...24:
            if n < parts.facts.columns.count { parts.facts.columns.prefetch(n, offsets: 0, 0) }
        default:
            break
        }
    }

    static let balancesOffset = MemoryLayout<ClientRecord>.offset(of: \ClientRecord.balances)!
    static let statsOffset = MemoryLayout<ClientRecord>.offset(of: \ClientRecord.stats)!
    static let channelsOffset = MemoryLayout<ClientRecord>.offset(of: \ClientRecord.channels)!

    /// Hints the CPU to fetch the newest and oldest lots of the event's client, for the
    /// events that change lots (call it once the client record has been prefetched).
    @inline(__always)
    public mutating func prefetchLots(typeCode: UInt32, body: UnsafeRawBufferPointer) {
        switch EventKind(rawValue: typeCode) {
        case .bonusActivated:
            guard let number = EventCodec.clientNumber(body), Int(number) < records.count else { return }
            let record = records[Int(number)]
            lotPool.lots.prefetch(Int(record.activationHint >= 0 ? record.activationHint : record.lotHead), offsets: 0, 0)
        case .bonusExpired, .bonusWrittenOff, .bonusReserveCaptured, .bonusReserveReleased, .bonusCancelled, .bonusReserved:
            guard let number = EventCodec.clientNumber(body), Int(number) < records.count else { return }
            let record = records[Int(number)]
            lotPool.lots.prefetch(Int(record.lotHead), offsets: 0, 0)
            lotPool.lots.prefetch(Int(record.lotTail), offsets: 0, 0)
        default:
            return
        }
    }

    /// Hints the CPU to fetch the id-table slots a purchase is about to insert: its idempotency
    /// key's and its purchase id's (the body's first field).
    @inline(__always)
    public mutating func prefetchKeys(typeCode: UInt32, key: UnsafeRawBufferPointer?, body: UnsafeRawBufferPointer) {
        guard typeCode == EventKind.purchaseMade.rawValue else { return }
        if let key { parts.idempotency.prefetch(key) }
        // flags, the client number (a varint), then field 1 (tag 1, wire type 2: 0x0A) and its length.
        var i = 1
        if body.count > 1 && body[0] & EventCodec.clientNumberFlag != 0 {
            while i < body.count && body[i] & 0x80 != 0 { i += 1 }
            i += 1
        }
        guard i + 1 < body.count, body[i] == 0x0A, body[i + 1] < 0x80 else { return }
        let length = Int(body[i + 1])
        guard i + 2 + length <= body.count else { return }
        purchaseIDs.prefetch(UnsafeRawBufferPointer(rebasing: body[(i + 2)..<(i + 2 + length)]))
    }
}

/// Checks that the client numbers bodies carry agree with their stream keys: a registration's
/// number is the count of registrations before it, and any other event's number is the
/// number its client id registered with. A rebuild trusts the numbers; `ledger verify` checks
/// them this way, so that a wrong one cannot hide.
public struct ClientNumberCheck {
    private var ids = IdTable()
    public private(set) var checked: UInt64 = 0

    public init() {}

    /// The problem with this event's number, if any.
    public mutating func check(typeCode: UInt32, streamKey: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> String? {
        let number: Int32?
        do { number = try EventCodec.header(body).clientNumber } catch { return "the body's header does not read: \(error)" }
        if typeCode == EventKind.clientRegistered.rawValue {
            let (index, inserted) = ids.findOrInsert(streamKey)
            guard inserted else { return "client '\(String(decoding: streamKey, as: UTF8.self))' registers a second time" }
            if let number {
                checked += 1
                guard number == index else { return "the registration carries client number \(number), but it is registration \(index)" }
            }
            return nil
        }
        guard let number else { return nil }
        checked += 1
        guard ids.has(number, key: streamKey) else {
            let registered = ids.find(streamKey).map { "\($0)" } ?? "no number (never registered)"
            return "the body names client number \(number), but client '\(String(decoding: streamKey, as: UTF8.self))' has \(registered)"
        }
        return nil
    }
}

/// A registration as a rebuild reads it: its texts as UTF-8 bytes in the body (an absent or
/// empty text is nil, as the codec writes it).
struct RegistrationBytes {
    var phone: UnsafeRawBufferPointer?
    var cards: [UnsafeRawBufferPointer] = []
    var name: UnsafeRawBufferPointer?
    var email: UnsafeRawBufferPointer?
    var gender: Gender?
    var birthday: Int64?
    var place: UnsafeRawBufferPointer?
    var addedBy: UnsafeRawBufferPointer?
    var status = ParticipationStatus.participant
}
