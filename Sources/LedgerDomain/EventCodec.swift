import LedgerBytes

/// Encodes and decodes event bodies (see ``FieldWriter`` for the wire format). The tags of
/// each type are fixed forever; a new field takes a new tag.
public enum EventCodec {
    /// Version 2 added the client number after the flags byte; version 1 bodies still read.
    public static let bodyVersion: UInt8 = 2
    /// Flag bits of a body's first byte (its high four bits are the version).
    static let derivedFlag: UInt8 = 1
    static let clientNumberFlag: UInt8 = 2

    /// Writes the body of `event` into `buffer` (appending): the flags byte, the client number
    /// when there is one, then the fields.
    public static func encode(_ event: DomainEvent, derived: Bool, clientNumber: Int32? = nil, into buffer: WriteBuffer) {
        buffer.reserve(6)
        buffer.putLittleEndian(UInt8(bodyVersion << 4) | (derived ? derivedFlag : 0) | (clientNumber != nil ? clientNumberFlag : 0))
        if let clientNumber { buffer.putVarint(UInt64(UInt32(bitPattern: clientNumber))) }
        let w = FieldWriter(buffer)
        switch event {
        case .bonusAccrued(let a):
            w.int(1, a.amount); w.string(2, a.reason.rawValue); w.int(3, a.activatesAt); w.int(4, a.expiresAt)
            w.string(5, a.source); w.string(6, a.comment); w.string(7, a.operatorName); w.int(8, a.debtPaid); w.bool(9, a.customExpiry)
        case .bonusActivated(let a):
            w.uint(1, a.lot); w.int(2, a.amount); w.int(3, a.debtPaid)
        case .bonusWrittenOff(let o):
            w.int(1, o.amount); w.string(2, o.reason.rawValue); w.string(3, o.purchase); w.string(4, o.comment)
            w.string(5, o.operatorName); takes(w, 6, o.lots)
        case .bonusReserved(let r), .bonusReserveReleased(let r), .bonusReserveCaptured(let r):
            w.string(1, r.order); w.int(2, r.amount); takes(w, 3, r.lots)
        case .bonusExpired(let e):
            w.uint(1, e.lot); w.int(2, e.amount)
        case .bonusCancelled(let c):
            w.int(1, c.amount); w.string(2, c.reason.rawValue); w.string(3, c.purchase); w.string(4, c.returnID)
            if let lot = c.correctedLot { w.uint(5, lot + 1) }
            takes(w, 6, c.lots); w.int(7, c.debt); w.int(8, c.forgiven); w.string(9, c.comment)
        case .mailingSent(let m), .mailingDelivered(let m), .mailingOpened(let m), .mailingClicked(let m),
             .mailingGoalReached(let m), .mailingFailed(let m):
            w.string(1, m.mailing); w.string(2, m.channel.rawValue); w.string(3, m.kind.rawValue); w.string(4, m.error)
        case .messengerSubscribed(let c), .messengerUnsubscribed(let c):
            w.string(1, c.rawValue)
        case .purchaseMade(let p):
            w.string(1, p.purchase); w.int(2, p.total); w.int(3, p.paid); w.int(4, p.bonusesSpent); w.string(5, p.store)
            w.string(6, p.seller); items(w, 7, p.items); w.string(8, p.promotion); w.string(9, p.promoCode)
        case .purchaseReturned(let r):
            w.string(1, r.purchase); w.string(2, r.returnID); w.int(3, r.amount); items(w, 4, r.items)
            w.string(5, r.store); w.string(6, r.acceptedBy)
        case .orderPlaced(let o), .orderClosed(let o), .orderCancelled(let o):
            w.string(1, o.order); w.int(2, o.amount)
        case .segmentEntered(let s), .segmentLeft(let s), .segmentAssigned(let s), .segmentUnassigned(let s), .segmentDeleted(let s):
            w.string(1, s)
        case .clientRegistered(let r):
            w.string(1, r.phone); for card in r.cards { w.string(2, card) }; w.string(3, r.name); w.string(4, r.email)
            w.string(5, r.gender?.rawValue); w.int(6, r.birthday); w.string(7, r.place); w.string(8, r.addedBy); w.string(9, r.status.rawValue)
        case .profileChanged(let changes):
            for c in changes { w.message(1) { m in m.string(1, c.field); m.string(2, c.old); m.string(3, c.new) } }
        case .cardAdded(let card), .cardRemoved(let card):
            w.string(1, card)
        case .clientBlocked(let comment), .clientUnblocked(let comment), .clientDeleted(let comment):
            w.string(1, comment)
        case .walletInstalled(let p), .walletRemoved(let p):
            w.string(1, p.rawValue)
        case .levelChanged(let l):
            w.string(1, l.from); w.string(2, l.to); w.bool(3, l.manual)
        case .npsRated(let score, let comment):
            w.int(1, Optional(score)); w.string(2, comment)
        case .noteAdded(let text):
            w.string(1, text)
        case .custom(let n), .system(let n):
            w.string(1, n.name)
            for (key, value) in n.context {
                w.message(2) { m in
                    m.string(1, key)
                    switch value {
                    case .string(let s): m.string(2, s.isEmpty ? nil : s); if s.isEmpty { m.bool(6, true) }
                    case .number(let d): m.uint(3, d.bitPattern == 0 ? 0 : d.bitPattern); m.bool(7, true)
                    case .bool(let b): m.uint(4, b ? 2 : 1)
                    case .date(let t): m.int(5, Optional(t))
                    }
                }
            }
        case .rulesChanged(let r):
            w.int(1, r.version); w.int(2, Optional(r.accrualBasisPoints)); w.int(3, Optional(r.pendingDays))
            w.int(4, Optional(r.lifetimeDays)); w.string(5, r.returnPolicy.rawValue); w.int(6, r.birthdayBonus)
            w.int(7, r.welcomeBonus); w.bool(8, r.levelBasisIsCount); w.int(9, Optional(r.levelWindowDays))
            for level in r.levels {
                w.message(10) { m in m.string(1, level.name); m.int(2, level.threshold); m.int(4, level.percentBasisPoints) }
            }
            if r.levels.isEmpty { w.bool(11, true) }
        case .segmentDefined(let s):
            w.string(1, s.name); w.string(2, s.color); w.string(3, s.filters); w.int(4, s.version)
        case .operationRefused(let r):
            w.string(1, r.code); w.string(2, r.operation); w.string(3, r.message); w.int(4, r.amount); w.string(5, r.source)
        }
    }

    private static func takes(_ w: FieldWriter, _ tag: UInt64, _ lots: [LotTake]) {
        for take in lots { w.message(tag) { m in m.uint(1, take.lot + 1); m.int(2, take.amount) } }
    }

    private static func items(_ w: FieldWriter, _ tag: UInt64, _ items: [Item]) {
        for item in items {
            w.message(tag) { m in
                m.string(1, item.sku); m.string(2, item.name); m.string(3, item.category); m.int(4, item.quantity); m.int(5, item.price)
            }
        }
    }

    /// A decoded body: the event, whether it was derived, and how many unknown fields were
    /// skipped (an older reader meeting a newer writer's fields).
    public struct Decoded: Sendable {
        public var event: DomainEvent
        public var derived: Bool
        public var clientNumber: Int32?
        public var skippedFields: Int
    }

    /// What a body's first bytes say: whether the event was derived, the client's number, and
    /// where the fields begin.
    struct Header {
        var derived: Bool
        var clientNumber: Int32?
        var fieldsStart: Int
    }

    /// The client number a body carries (version 2 bodies of a client's events), or nil when
    /// it carries none or its first bytes do not decode.
    @inline(__always)
    public static func clientNumber(_ body: UnsafeRawBufferPointer) -> Int32? { (try? header(body))?.clientNumber }

    @inline(__always)
    static func header(_ bytes: UnsafeRawBufferPointer) throws(BodyError) -> Header {
        guard bytes.count >= 1 else { throw .malformed("the body is empty") }
        let flags = bytes[0]
        let version = flags >> 4
        guard version >= 1, version <= bodyVersion else { throw .unknownVersion(version) }
        let known = version >= 2 ? derivedFlag | clientNumberFlag : derivedFlag
        guard flags & 0x0F & ~known == 0 else { throw .malformed("unknown flags \(flags & 0x0F) in a version \(version) body") }
        var header = Header(derived: flags & derivedFlag != 0, clientNumber: nil, fieldsStart: 1)
        if flags & clientNumberFlag != 0 {
            var i = 1
            guard let value = Varint.read(bytes, at: &i, maxBytes: 5) else { throw .malformed("the client number is cut short or too long") }
            guard value <= UInt64(Int32.max) else { throw .malformed("client number \(value) is out of range") }
            header.clientNumber = Int32(value)
            header.fieldsStart = i
        }
        return header
    }

    /// Decodes a body of the type `typeCode`. Throws ``BodyError/unknownType(_:)`` for a type
    /// this reader does not know (the caller skips it and says so).
    ///
    /// `forReplay` leaves out what only the journal shows and the state never holds (a
    /// receipt's items, store and seller, operators' comments): a rebuild does not pay for them.
    public static func decode(typeCode: UInt32, _ bytes: UnsafeRawBufferPointer, forReplay: Bool = false) throws(BodyError) -> Decoded {
        guard let kind = EventKind(rawValue: typeCode) else { throw .unknownType(typeCode) }
        let header = try header(bytes)
        var r = FieldReader(UnsafeRawBufferPointer(rebasing: bytes[header.fieldsStart...]))
        let event = try decodeFields(kind, &r, brief: forReplay)
        return Decoded(event: event, derived: header.derived, clientNumber: header.clientNumber, skippedFields: r.skippedFields)
    }

    static func enumValue<E: RawRepresentable>(_ text: String, _ field: String) throws(BodyError) -> E where E.RawValue == String {
        guard let value = E(rawValue: text) else { throw .badValue("\(field) '\(text)' is unknown") }
        return value
    }

    // swiftlint:disable:next cyclomatic_complexity function_body_length
    private static func decodeFields(_ kind: EventKind, _ r: inout FieldReader, brief: Bool) throws(BodyError) -> DomainEvent {
        switch kind {
        case .bonusAccrued:
            var a = Accrual(amount: 0, reason: .manual, activatesAt: 0, expiresAt: 0)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: a.amount = try r.int(wire)
                case 2: a.reason = try enumValue(try r.string(wire), "reason")
                case 3: a.activatesAt = try r.int(wire)
                case 4: a.expiresAt = try r.int(wire)
                case 5: a.source = try r.string(wire)
                case _ where brief && (tag == 6 || tag == 7): try r.pass(wire)
                case 6: a.comment = try r.string(wire)
                case 7: a.operatorName = try r.string(wire)
                case 8: a.debtPaid = try r.int(wire)
                case 9: a.customExpiry = try r.uint(wire) != 0
                default: try r.skip(wire)
                }
            }
            return .bonusAccrued(a)
        case .bonusActivated:
            var a = Activation(lot: 0, amount: 0, debtPaid: 0)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: a.lot = try r.uint(wire)
                case 2: a.amount = try r.int(wire)
                case 3: a.debtPaid = try r.int(wire)
                default: try r.skip(wire)
                }
            }
            return .bonusActivated(a)
        case .bonusWrittenOff:
            var o = WriteOff(amount: 0, reason: .manual, lots: [])
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: o.amount = try r.int(wire)
                case 2: o.reason = try enumValue(try r.string(wire), "reason")
                case _ where brief && (tag == 3 || tag == 4 || tag == 5): try r.pass(wire)
                case 3: o.purchase = try r.string(wire)
                case 4: o.comment = try r.string(wire)
                case 5: o.operatorName = try r.string(wire)
                case 6: o.lots.append(try take(try r.bytes(wire)))
                default: try r.skip(wire)
                }
            }
            return .bonusWrittenOff(o)
        case .bonusReserved, .bonusReserveReleased, .bonusReserveCaptured:
            var res = Reservation(order: "", amount: 0, lots: [])
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: res.order = try r.string(wire)
                case 2: res.amount = try r.int(wire)
                case 3: res.lots.append(try take(try r.bytes(wire)))
                default: try r.skip(wire)
                }
            }
            return kind == .bonusReserved ? .bonusReserved(res) : kind == .bonusReserveReleased ? .bonusReserveReleased(res) : .bonusReserveCaptured(res)
        case .bonusExpired:
            var e = Expiry(lot: 0, amount: 0)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: e.lot = try r.uint(wire)
                case 2: e.amount = try r.int(wire)
                default: try r.skip(wire)
                }
            }
            return .bonusExpired(e)
        case .bonusCancelled:
            var c = Cancellation(amount: 0, reason: .return, lots: [], debt: 0, forgiven: 0)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: c.amount = try r.int(wire)
                case 2: c.reason = try enumValue(try r.string(wire), "reason")
                case 3: c.purchase = try r.string(wire)
                case 4: c.returnID = try r.string(wire)
                case 5: c.correctedLot = try positionPlusOne(try r.uint(wire))
                case 6: c.lots.append(try take(try r.bytes(wire)))
                case 7: c.debt = try r.int(wire)
                case 8: c.forgiven = try r.int(wire)
                case _ where brief && (tag == 9): try r.pass(wire)
                case 9: c.comment = try r.string(wire)
                default: try r.skip(wire)
                }
            }
            return .bonusCancelled(c)
        case .mailingSent, .mailingDelivered, .mailingOpened, .mailingClicked, .mailingGoalReached, .mailingFailed:
            var m = MailingEvent(mailing: "", channel: .email, kind: .manual)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: m.mailing = try r.string(wire)
                case 2: m.channel = try enumValue(try r.string(wire), "channel")
                case 3: m.kind = try enumValue(try r.string(wire), "kind")
                case 4: m.error = try r.string(wire)
                default: try r.skip(wire)
                }
            }
            switch kind {
            case .mailingSent: return .mailingSent(m)
            case .mailingDelivered: return .mailingDelivered(m)
            case .mailingOpened: return .mailingOpened(m)
            case .mailingClicked: return .mailingClicked(m)
            case .mailingGoalReached: return .mailingGoalReached(m)
            default: return .mailingFailed(m)
            }
        case .messengerSubscribed, .messengerUnsubscribed:
            var channel = Channel.telegram
            while let (tag, wire) = try r.next() {
                if tag == 1 { channel = try enumValue(try r.string(wire), "channel") } else { try r.skip(wire) }
            }
            return kind == .messengerSubscribed ? .messengerSubscribed(channel) : .messengerUnsubscribed(channel)
        case .purchaseMade:
            var p = Purchase(purchase: "", total: 0, paid: 0, bonusesSpent: 0, items: [])
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: p.purchase = try r.string(wire)
                case 2: p.total = try r.int(wire)
                case 3: p.paid = try r.int(wire)
                case 4: p.bonusesSpent = try r.int(wire)
                case _ where brief && (tag == 5 || tag == 6 || tag == 7 || tag == 8 || tag == 9): try r.pass(wire)
                case 5: p.store = try r.string(wire)
                case 6: p.seller = try r.string(wire)
                case 7: p.items.append(try item(try r.bytes(wire)))
                case 8: p.promotion = try r.string(wire)
                case 9: p.promoCode = try r.string(wire)
                default: try r.skip(wire)
                }
            }
            return .purchaseMade(p)
        case .purchaseReturned:
            var ret = PurchaseReturn(purchase: "", returnID: "", amount: 0, items: [])
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: ret.purchase = try r.string(wire)
                case 2: ret.returnID = try r.string(wire)
                case 3: ret.amount = try r.int(wire)
                case _ where brief && (tag == 4 || tag == 5 || tag == 6): try r.pass(wire)
                case 4: ret.items.append(try item(try r.bytes(wire)))
                case 5: ret.store = try r.string(wire)
                case 6: ret.acceptedBy = try r.string(wire)
                default: try r.skip(wire)
                }
            }
            return .purchaseReturned(ret)
        case .orderPlaced, .orderClosed, .orderCancelled:
            var o = OrderEvent(order: "", amount: nil)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: o.order = try r.string(wire)
                case 2: o.amount = try r.optionalInt(wire)
                default: try r.skip(wire)
                }
            }
            return kind == .orderPlaced ? .orderPlaced(o) : kind == .orderClosed ? .orderClosed(o) : .orderCancelled(o)
        case .segmentEntered, .segmentLeft, .segmentAssigned, .segmentUnassigned, .segmentDeleted:
            let s = try singleString(&r)
            switch kind {
            case .segmentEntered: return .segmentEntered(s)
            case .segmentLeft: return .segmentLeft(s)
            case .segmentAssigned: return .segmentAssigned(s)
            case .segmentUnassigned: return .segmentUnassigned(s)
            default: return .segmentDeleted(s)
            }
        case .clientRegistered:
            // One reading of a registration's tags, shared with the rebuild's byte path.
            let b = try LedgerState.readRegistration(&r)
            func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
            return .clientRegistered(Registration(phone: b.phone.map(text), cards: b.cards.map(text), name: b.name.map(text),
                                                  email: b.email.map(text), gender: b.gender, birthday: b.birthday,
                                                  place: b.place.map(text), addedBy: b.addedBy.map(text), status: b.status))
        case .profileChanged:
            var changes: [FieldChange] = []
            while let (tag, wire) = try r.next() {
                if tag == 1 {
                    var m = FieldReader(try r.bytes(wire))
                    var change = FieldChange(field: "", old: nil, new: nil)
                    while let (t, w) = try m.next() {
                        switch t {
                        case 1: change.field = try m.string(w)
                        case 2: change.old = try m.string(w)
                        case 3: change.new = try m.string(w)
                        default: try m.skip(w)
                        }
                    }
                    changes.append(change)
                } else { try r.skip(wire) }
            }
            return .profileChanged(changes)
        case .cardAdded, .cardRemoved:
            let card = try singleString(&r)
            return kind == .cardAdded ? .cardAdded(card) : .cardRemoved(card)
        case .clientBlocked, .clientUnblocked, .clientDeleted:
            let s = try singleString(&r)
            let comment: String? = s.isEmpty ? nil : s
            return kind == .clientBlocked ? .clientBlocked(comment: comment) : kind == .clientUnblocked ? .clientUnblocked(comment: comment) : .clientDeleted(comment: comment)
        case .walletInstalled, .walletRemoved:
            let platform: WalletPlatform = try enumValue(try singleString(&r), "platform")
            return kind == .walletInstalled ? .walletInstalled(platform) : .walletRemoved(platform)
        case .levelChanged:
            var l = LevelChange(from: nil, to: nil, manual: false)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: l.from = try r.string(wire)
                case 2: l.to = try r.string(wire)
                case 3: l.manual = try r.uint(wire) != 0
                default: try r.skip(wire)
                }
            }
            return .levelChanged(l)
        case .npsRated:
            var score: Int64 = 0
            var comment: String? = nil
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: score = try r.optionalInt(wire)
                case 2: comment = try r.string(wire)
                default: try r.skip(wire)
                }
            }
            return .npsRated(score: score, comment: comment)
        case .noteAdded:
            return .noteAdded(try singleString(&r))
        case .custom, .system:
            var n = NamedEvent(name: "", context: [])
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: n.name = try r.string(wire)
                case 2:
                    var m = FieldReader(try r.bytes(wire))
                    var key = ""
                    var value = ContextValue.string("")
                    var number: UInt64 = 0
                    var isNumber = false
                    while let (t, w) = try m.next() {
                        switch t {
                        case 1: key = try m.string(w)
                        case 2: value = .string(try m.string(w))
                        case 3: number = try m.uint(w)
                        case 4: value = .bool(try m.uint(w) == 2)
                        case 5: value = .date(try m.optionalInt(w))
                        case 6: value = .string(""); _ = try m.uint(w)
                        case 7: isNumber = try m.uint(w) != 0
                        default: try m.skip(w)
                        }
                    }
                    if isNumber { value = .number(Double(bitPattern: number)) }
                    n.context.append((key, value))
                default: try r.skip(wire)
                }
            }
            return kind == .custom ? .custom(n) : .system(n)
        case .rulesChanged:
            var rules = Rules()
            var levels: [LevelRule] = []
            var noLevels = false
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: rules.version = try r.int(wire)
                case 2: rules.accrualBasisPoints = try r.optionalInt(wire)
                case 3: rules.pendingDays = try r.optionalInt(wire)
                case 4: rules.lifetimeDays = try r.optionalInt(wire)
                case 5: rules.returnPolicy = try enumValue(try r.string(wire), "returnPolicy")
                case 6: rules.birthdayBonus = try r.int(wire)
                case 7: rules.welcomeBonus = try r.int(wire)
                case 8: rules.levelBasisIsCount = try r.uint(wire) != 0
                case 9: rules.levelWindowDays = try r.optionalInt(wire)
                case 10:
                    var m = FieldReader(try r.bytes(wire))
                    var level = LevelRule(name: "", threshold: 0, percentBasisPoints: nil)
                    while let (t, w) = try m.next() {
                        switch t {
                        case 1: level.name = try m.string(w)
                        case 2: level.threshold = try m.int(w)
                        case 3: level.percentBasisPoints = try m.int(w)
                        case 4: level.percentBasisPoints = try m.optionalInt(w)
                        default: try m.skip(w)
                        }
                    }
                    levels.append(level)
                case 11: noLevels = try r.uint(wire) != 0
                default: try r.skip(wire)
                }
            }
            if !levels.isEmpty || noLevels { rules.levels = levels }
            return .rulesChanged(rules)
        case .segmentDefined:
            var s = SegmentDefinition(name: "", color: nil, filters: "", version: 0)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: s.name = try r.string(wire)
                case 2: s.color = try r.string(wire)
                case 3: s.filters = try r.string(wire)
                case 4: s.version = try r.int(wire)
                default: try r.skip(wire)
                }
            }
            return .segmentDefined(s)
        case .operationRefused:
            var ref = Refusal(code: "", operation: "", message: "", amount: nil)
            while let (tag, wire) = try r.next() {
                switch tag {
                case 1: ref.code = try r.string(wire)
                case 2: ref.operation = try r.string(wire)
                case 3: ref.message = try r.string(wire)
                case 4: ref.amount = try r.optionalInt(wire)
                case 5: ref.source = try r.string(wire)
                default: try r.skip(wire)
                }
            }
            return .operationRefused(ref)
        }
    }

    /// Lot positions are stored plus one so that position 0 is not an omitted zero.
    private static func positionPlusOne(_ stored: UInt64) throws(BodyError) -> UInt64 {
        guard stored > 0 else { throw .malformed("a lot position field holds 0") }
        return stored - 1
    }

    private static func singleString(_ r: inout FieldReader) throws(BodyError) -> String {
        var value = ""
        while let (tag, wire) = try r.next() {
            if tag == 1 { value = try r.string(wire) } else { try r.skip(wire) }
        }
        return value
    }

    static func take(_ bytes: UnsafeRawBufferPointer) throws(BodyError) -> LotTake {
        var m = FieldReader(bytes)
        var t = LotTake(lot: 0, amount: 0)
        while let (tag, wire) = try m.next() {
            switch tag {
            case 1: t.lot = try positionPlusOne(try m.uint(wire))
            case 2: t.amount = try m.int(wire)
            default: try m.skip(wire)
            }
        }
        return t
    }

    private static func item(_ bytes: UnsafeRawBufferPointer) throws(BodyError) -> Item {
        var m = FieldReader(bytes)
        var i = Item(sku: "", name: "", category: "", quantity: 0, price: 0)
        while let (tag, wire) = try m.next() {
            switch tag {
            case 1: i.sku = try m.string(wire)
            case 2: i.name = try m.string(wire)
            case 3: i.category = try m.string(wire)
            case 4: i.quantity = try m.int(wire)
            case 5: i.price = try m.int(wire)
            default: try m.skip(wire)
            }
        }
        return i
    }
}
