/// The bodies of the bonus events: their tags, and how each is written and read.

enum AccrualField: UInt64, FieldTag {
    case amount = 1, reason, activatesAt, expiresAt, source, comment, operatorName, debtPaid, customExpiry
}

extension Accrual {
    func write(_ w: FieldWriter) {
        w.int(AccrualField.amount, amount); w.string(AccrualField.reason, reason.rawValue)
        w.int(AccrualField.activatesAt, activatesAt); w.int(AccrualField.expiresAt, expiresAt)
        w.string(AccrualField.source, source); w.string(AccrualField.comment, comment)
        w.string(AccrualField.operatorName, operatorName); w.int(AccrualField.debtPaid, debtPaid)
        w.bool(AccrualField.customExpiry, customExpiry)
    }

    static func read(_ r: inout FieldReader, brief: Bool) throws(BodyError) -> Accrual {
        var a = Accrual(amount: 0, reason: .manual, activatesAt: 0, expiresAt: 0)
        while let (tag, wire) = try r.next() {
            switch AccrualField(rawValue: tag) {
            case .amount?: a.amount = try r.int(wire)
            case .reason?: a.reason = try r.named(wire, "reason")
            case .activatesAt?: a.activatesAt = try r.int(wire)
            case .expiresAt?: a.expiresAt = try r.int(wire)
            case .source?: a.source = try r.string(wire)
            case .comment?: a.comment = try r.text(wire, unless: brief)
            case .operatorName?: a.operatorName = try r.text(wire, unless: brief)
            case .debtPaid?: a.debtPaid = try r.int(wire)
            case .customExpiry?: a.customExpiry = try r.uint(wire) != 0
            case nil: try r.skip(wire)
            }
        }
        return a
    }
}

enum ActivationField: UInt64, FieldTag { case lot = 1, amount, debtPaid }

extension Activation {
    func write(_ w: FieldWriter) {
        w.uint(ActivationField.lot, lot); w.int(ActivationField.amount, amount); w.int(ActivationField.debtPaid, debtPaid)
    }

    static func read(_ r: inout FieldReader) throws(BodyError) -> Activation {
        var a = Activation(lot: 0, amount: 0, debtPaid: 0)
        while let (tag, wire) = try r.next() {
            switch ActivationField(rawValue: tag) {
            case .lot?: a.lot = try r.uint(wire)
            case .amount?: a.amount = try r.int(wire)
            case .debtPaid?: a.debtPaid = try r.int(wire)
            case nil: try r.skip(wire)
            }
        }
        return a
    }
}

enum WriteOffField: UInt64, FieldTag { case amount = 1, reason, purchase, comment, operatorName, lots }

extension WriteOff {
    func write(_ w: FieldWriter) {
        w.int(WriteOffField.amount, amount); w.string(WriteOffField.reason, reason.rawValue)
        w.string(WriteOffField.purchase, purchase); w.string(WriteOffField.comment, comment)
        w.string(WriteOffField.operatorName, operatorName)
        LotTake.write(lots, WriteOffField.lots, w)
    }

    static func read(_ r: inout FieldReader, brief: Bool) throws(BodyError) -> WriteOff {
        var o = WriteOff(amount: 0, reason: .manual, lots: [])
        while let (tag, wire) = try r.next() {
            switch WriteOffField(rawValue: tag) {
            case .amount?: o.amount = try r.int(wire)
            case .reason?: o.reason = try r.named(wire, "reason")
            case .purchase?: o.purchase = try r.text(wire, unless: brief)
            case .comment?: o.comment = try r.text(wire, unless: brief)
            case .operatorName?: o.operatorName = try r.text(wire, unless: brief)
            case .lots?: o.lots.append(try LotTake.read(try r.bytes(wire)))
            case nil: try r.skip(wire)
            }
        }
        return o
    }
}

enum ReservationField: UInt64, FieldTag { case order = 1, amount, lots }

extension Reservation {
    func write(_ w: FieldWriter) {
        w.string(ReservationField.order, order); w.int(ReservationField.amount, amount)
        LotTake.write(lots, ReservationField.lots, w)
    }

    static func read(_ r: inout FieldReader) throws(BodyError) -> Reservation {
        var res = Reservation(order: "", amount: 0, lots: [])
        while let (tag, wire) = try r.next() {
            switch ReservationField(rawValue: tag) {
            case .order?: res.order = try r.string(wire)
            case .amount?: res.amount = try r.int(wire)
            case .lots?: res.lots.append(try LotTake.read(try r.bytes(wire)))
            case nil: try r.skip(wire)
            }
        }
        return res
    }
}

enum ExpiryField: UInt64, FieldTag { case lot = 1, amount }

extension Expiry {
    func write(_ w: FieldWriter) { w.uint(ExpiryField.lot, lot); w.int(ExpiryField.amount, amount) }

    static func read(_ r: inout FieldReader) throws(BodyError) -> Expiry {
        var e = Expiry(lot: 0, amount: 0)
        while let (tag, wire) = try r.next() {
            switch ExpiryField(rawValue: tag) {
            case .lot?: e.lot = try r.uint(wire)
            case .amount?: e.amount = try r.int(wire)
            case nil: try r.skip(wire)
            }
        }
        return e
    }
}

enum CancellationField: UInt64, FieldTag { case amount = 1, reason, purchase, returnID, correctedLot, lots, debt, forgiven, comment }

extension Cancellation {
    func write(_ w: FieldWriter) {
        w.int(CancellationField.amount, amount); w.string(CancellationField.reason, reason.rawValue)
        w.string(CancellationField.purchase, purchase); w.string(CancellationField.returnID, returnID)
        w.position(CancellationField.correctedLot, correctedLot)
        LotTake.write(lots, CancellationField.lots, w)
        w.int(CancellationField.debt, debt); w.int(CancellationField.forgiven, forgiven); w.string(CancellationField.comment, comment)
    }

    static func read(_ r: inout FieldReader, brief: Bool) throws(BodyError) -> Cancellation {
        var c = Cancellation(amount: 0, reason: .return, lots: [], debt: 0, forgiven: 0)
        while let (tag, wire) = try r.next() {
            switch CancellationField(rawValue: tag) {
            case .amount?: c.amount = try r.int(wire)
            case .reason?: c.reason = try r.named(wire, "reason")
            case .purchase?: c.purchase = try r.string(wire)
            case .returnID?: c.returnID = try r.string(wire)
            case .correctedLot?: c.correctedLot = try r.position(wire)
            case .lots?: c.lots.append(try LotTake.read(try r.bytes(wire)))
            case .debt?: c.debt = try r.int(wire)
            case .forgiven?: c.forgiven = try r.int(wire)
            case .comment?: c.comment = try r.text(wire, unless: brief)
            case nil: try r.skip(wire)
            }
        }
        return c
    }
}

enum LotTakeField: UInt64, FieldTag { case lot = 1, amount }

extension LotTake {
    /// Each take as a nested message under `tag`.
    static func write<Tag: FieldTag>(_ takes: [LotTake], _ tag: Tag, _ w: FieldWriter) {
        for take in takes { w.message(tag) { m in m.position(LotTakeField.lot, take.lot); m.int(LotTakeField.amount, take.amount) } }
    }

    static func read(_ bytes: UnsafeRawBufferPointer) throws(BodyError) -> LotTake {
        var m = FieldReader(bytes)
        var t = LotTake(lot: 0, amount: 0)
        while let (tag, wire) = try m.next() {
            switch LotTakeField(rawValue: tag) {
            case .lot?: t.lot = try m.position(wire)
            case .amount?: t.amount = try m.int(wire)
            case nil: try m.skip(wire)
            }
        }
        return t
    }
}
