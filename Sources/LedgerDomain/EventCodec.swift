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
        case .bonusAccrued(let a): a.write(w)
        case .bonusActivated(let a): a.write(w)
        case .bonusWrittenOff(let o): o.write(w)
        case .bonusReserved(let r), .bonusReserveReleased(let r), .bonusReserveCaptured(let r): r.write(w)
        case .bonusExpired(let e): e.write(w)
        case .bonusCancelled(let c): c.write(w)
        case .mailingSent(let m), .mailingDelivered(let m), .mailingOpened(let m), .mailingClicked(let m),
             .mailingGoalReached(let m), .mailingFailed(let m):
            m.write(w)
        case .messengerSubscribed(let c), .messengerUnsubscribed(let c): w.string(SingleField.value, c.rawValue)
        case .purchaseMade(let p): p.write(w)
        case .purchaseReturned(let r): r.write(w)
        case .orderPlaced(let o), .orderClosed(let o), .orderCancelled(let o): o.write(w)
        case .segmentEntered(let t), .segmentLeft(let t): t.write(w)
        case .segmentAssigned(let s), .segmentUnassigned(let s), .segmentDeleted(let s):
            w.string(SingleField.value, s)
        case .clientRegistered(let r): r.write(w)
        case .profileChanged(let changes): FieldChange.write(changes, w)
        case .cardAdded(let card), .cardRemoved(let card): w.string(SingleField.value, card)
        case .clientBlocked(let comment), .clientUnblocked(let comment), .clientDeleted(let comment): w.string(SingleField.value, comment)
        case .walletInstalled(let p), .walletRemoved(let p): w.string(SingleField.value, p.rawValue)
        case .levelChanged(let l): l.write(w)
        case .npsRated(let score, let comment): NPSBody.write(score: score, comment: comment, w)
        case .noteAdded(let text): w.string(SingleField.value, text)
        case .custom(let n), .system(let n): n.write(w)
        case .rulesChanged(let r): r.write(w)
        case .segmentDefined(let s): s.write(w)
        case .operationRefused(let r): r.write(w)
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

    private static func decodeFields(_ kind: EventKind, _ r: inout FieldReader, brief: Bool) throws(BodyError) -> DomainEvent {
        switch kind {
        case .bonusAccrued: return .bonusAccrued(try Accrual.read(&r, brief: brief))
        case .bonusActivated: return .bonusActivated(try Activation.read(&r))
        case .bonusWrittenOff: return .bonusWrittenOff(try WriteOff.read(&r, brief: brief))
        case .bonusReserved: return .bonusReserved(try Reservation.read(&r))
        case .bonusReserveReleased: return .bonusReserveReleased(try Reservation.read(&r))
        case .bonusReserveCaptured: return .bonusReserveCaptured(try Reservation.read(&r))
        case .bonusExpired: return .bonusExpired(try Expiry.read(&r))
        case .bonusCancelled: return .bonusCancelled(try Cancellation.read(&r, brief: brief))
        case .mailingSent: return .mailingSent(try MailingEvent.read(&r))
        case .mailingDelivered: return .mailingDelivered(try MailingEvent.read(&r))
        case .mailingOpened: return .mailingOpened(try MailingEvent.read(&r))
        case .mailingClicked: return .mailingClicked(try MailingEvent.read(&r))
        case .mailingGoalReached: return .mailingGoalReached(try MailingEvent.read(&r))
        case .mailingFailed: return .mailingFailed(try MailingEvent.read(&r))
        // A body without a channel reads as telegram.
        case .messengerSubscribed: return .messengerSubscribed(try singleName(&r, "channel") ?? .telegram)
        case .messengerUnsubscribed: return .messengerUnsubscribed(try singleName(&r, "channel") ?? .telegram)
        case .purchaseMade: return .purchaseMade(try Purchase.read(&r, brief: brief))
        case .purchaseReturned: return .purchaseReturned(try PurchaseReturn.read(&r, brief: false))   // (segment filters read its details)
        case .orderPlaced: return .orderPlaced(try OrderEvent.read(&r))
        case .orderClosed: return .orderClosed(try OrderEvent.read(&r))
        case .orderCancelled: return .orderCancelled(try OrderEvent.read(&r))
        case .segmentEntered: return .segmentEntered(try SegmentTransition.read(&r))
        case .segmentLeft: return .segmentLeft(try SegmentTransition.read(&r))
        case .segmentAssigned: return .segmentAssigned(try singleString(&r))
        case .segmentUnassigned: return .segmentUnassigned(try singleString(&r))
        case .segmentDeleted: return .segmentDeleted(try singleString(&r))
        case .clientRegistered: return .clientRegistered(try Registration.read(&r))
        case .profileChanged: return .profileChanged(try FieldChange.read(&r))
        case .cardAdded: return .cardAdded(try singleString(&r))
        case .cardRemoved: return .cardRemoved(try singleString(&r))
        case .clientBlocked: return .clientBlocked(comment: try singleComment(&r))
        case .clientUnblocked: return .clientUnblocked(comment: try singleComment(&r))
        case .clientDeleted: return .clientDeleted(comment: try singleComment(&r))
        case .walletInstalled: return .walletInstalled(try enumValue(try singleString(&r), "platform"))
        case .walletRemoved: return .walletRemoved(try enumValue(try singleString(&r), "platform"))
        case .levelChanged: return .levelChanged(try LevelChange.read(&r))
        case .npsRated: return try NPSBody.read(&r)
        case .noteAdded: return .noteAdded(try singleString(&r))
        case .custom: return .custom(try NamedEvent.read(&r, brief: false)!)
        case .system: return .system(try NamedEvent.read(&r, brief: false)!)
        case .rulesChanged: return .rulesChanged(try Rules.read(&r))
        case .segmentDefined: return .segmentDefined(try SegmentDefinition.read(&r))
        case .operationRefused: return .operationRefused(try Refusal.read(&r))
        }
    }

    /// A comment body's text, nil when empty.
    private static func singleComment(_ r: inout FieldReader) throws(BodyError) -> String? {
        let s = try singleString(&r)
        return s.isEmpty ? nil : s
    }

    /// A body's single name as an enumeration's value; nil when the body has none.
    private static func singleName<E: RawRepresentable>(_ r: inout FieldReader, _ field: String) throws(BodyError) -> E? where E.RawValue == String {
        let s = try singleString(&r)
        return s.isEmpty ? nil : try enumValue(s, field)
    }
}
