/// The bodies of the client's events (registration, profile, level, NPS, mailings): their
/// tags, and how each is written and read. The bodies of one text or name use ``SingleField``.

enum RegistrationField: UInt64, FieldTag { case phone = 1, card, name, email, gender, birthday, place, addedBy, status }

extension Registration {
    func write(_ w: FieldWriter) {
        w.string(RegistrationField.phone, phone)
        for card in cards { w.string(RegistrationField.card, card) }
        w.string(RegistrationField.name, name); w.string(RegistrationField.email, email)
        w.string(RegistrationField.gender, gender?.rawValue); w.int(RegistrationField.birthday, birthday)
        w.string(RegistrationField.place, place); w.string(RegistrationField.addedBy, addedBy)
        w.string(RegistrationField.status, status.rawValue)
    }

    /// One reading of a registration's tags, shared with the rebuild's byte path.
    static func read(_ r: inout FieldReader) throws(BodyError) -> Registration {
        let b = try RegistrationBytes.read(&r)
        func text(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
        return Registration(phone: b.phone.map(text), cards: b.cards.map(text), name: b.name.map(text), email: b.email.map(text),
                            gender: b.gender, birthday: b.birthday, place: b.place.map(text), addedBy: b.addedBy.map(text), status: b.status)
    }
}

extension RegistrationBytes {
    /// A registration's fields as bytes in the body (valid while the body is).
    static func read(_ r: inout FieldReader) throws(BodyError) -> RegistrationBytes {
        func named<E: RawRepresentable>(_ bytes: UnsafeRawBufferPointer, _ field: String) throws(BodyError) -> E where E.RawValue == String {
            try EventCodec.enumValue(String(decoding: bytes, as: UTF8.self), field)
        }
        var reg = RegistrationBytes()
        while let (tag, wire) = try r.next() {
            switch RegistrationField(rawValue: tag) {
            case .phone?: reg.phone = try r.bytes(wire)
            case .card?: reg.cards.append(try r.bytes(wire))
            case .name?: reg.name = try r.bytes(wire)
            case .email?: reg.email = try r.bytes(wire)
            case .gender?: reg.gender = try named(try r.bytes(wire), "gender")
            case .birthday?: reg.birthday = try r.optionalInt(wire)
            case .place?: reg.place = try r.bytes(wire)
            case .addedBy?: reg.addedBy = try r.bytes(wire)
            case .status?: reg.status = try named(try r.bytes(wire), "status")
            case nil: try r.skip(wire)
            }
        }
        return reg
    }
}

enum ProfileChangeField: UInt64, FieldTag { case change = 1 }
enum FieldChangeField: UInt64, FieldTag { case field = 1, old, new }

extension FieldChange {
    static func write(_ changes: [FieldChange], _ w: FieldWriter) {
        for c in changes {
            w.message(ProfileChangeField.change) { m in
                m.string(FieldChangeField.field, c.field); m.string(FieldChangeField.old, c.old); m.string(FieldChangeField.new, c.new)
            }
        }
    }

    static func read(_ r: inout FieldReader) throws(BodyError) -> [FieldChange] {
        var changes: [FieldChange] = []
        while let (tag, wire) = try r.next() {
            switch ProfileChangeField(rawValue: tag) {
            case .change?:
                var m = FieldReader(try r.bytes(wire))
                var change = FieldChange(field: "", old: nil, new: nil)
                while let (t, w) = try m.next() {
                    switch FieldChangeField(rawValue: t) {
                    case .field?: change.field = try m.string(w)
                    case .old?: change.old = try m.string(w)
                    case .new?: change.new = try m.string(w)
                    case nil: try m.skip(w)
                    }
                }
                changes.append(change)
            case nil: try r.skip(wire)
            }
        }
        return changes
    }
}

enum LevelChangeField: UInt64, FieldTag { case from = 1, to, manual }

extension LevelChange {
    func write(_ w: FieldWriter) { w.string(LevelChangeField.from, from); w.string(LevelChangeField.to, to); w.bool(LevelChangeField.manual, manual) }

    static func read(_ r: inout FieldReader) throws(BodyError) -> LevelChange {
        var l = LevelChange(from: nil, to: nil, manual: false)
        while let (tag, wire) = try r.next() {
            switch LevelChangeField(rawValue: tag) {
            case .from?: l.from = try r.string(wire)
            case .to?: l.to = try r.string(wire)
            case .manual?: l.manual = try r.uint(wire) != 0
            case nil: try r.skip(wire)
            }
        }
        return l
    }
}

enum NPSField: UInt64, FieldTag { case score = 1, comment }

enum NPSBody {
    static func write(score: Int64, comment: String?, _ w: FieldWriter) { w.int(NPSField.score, Optional(score)); w.string(NPSField.comment, comment) }

    static func read(_ r: inout FieldReader) throws(BodyError) -> DomainEvent {
        var score: Int64 = 0
        var comment: String? = nil
        while let (tag, wire) = try r.next() {
            switch NPSField(rawValue: tag) {
            case .score?: score = try r.optionalInt(wire)
            case .comment?: comment = try r.string(wire)
            case nil: try r.skip(wire)
            }
        }
        return .npsRated(score: score, comment: comment)
    }
}

enum MailingField: UInt64, FieldTag { case mailing = 1, channel, kind, error }

extension MailingEvent {
    func write(_ w: FieldWriter) {
        w.string(MailingField.mailing, mailing); w.string(MailingField.channel, channel.rawValue)
        w.string(MailingField.kind, kind.rawValue); w.string(MailingField.error, error)
    }

    static func read(_ r: inout FieldReader) throws(BodyError) -> MailingEvent {
        var m = MailingEvent(mailing: "", channel: .email, kind: .manual)
        while let (tag, wire) = try r.next() {
            switch MailingField(rawValue: tag) {
            case .mailing?: m.mailing = try r.string(wire)
            case .channel?: m.channel = try r.named(wire, "channel")
            case .kind?: m.kind = try r.named(wire, "kind")
            case .error?: m.error = try r.string(wire)
            case nil: try r.skip(wire)
            }
        }
        return m
    }
}
