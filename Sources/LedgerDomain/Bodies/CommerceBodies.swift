/// The bodies of purchases, returns and orders: their tags, and how each is written and read.

enum PurchaseField: UInt64, FieldTag { case purchase = 1, total, paid, bonusesSpent, store, seller, items, promotion, promoCode }

extension Purchase {
    func write(_ w: FieldWriter) {
        w.string(PurchaseField.purchase, purchase); w.int(PurchaseField.total, total); w.int(PurchaseField.paid, paid)
        w.int(PurchaseField.bonusesSpent, bonusesSpent); w.string(PurchaseField.store, store); w.string(PurchaseField.seller, seller)
        Item.write(items, PurchaseField.items, w)
        w.string(PurchaseField.promotion, promotion); w.string(PurchaseField.promoCode, promoCode)
    }

    /// `brief` (a rebuild) leaves out what only the journal shows: the store, the seller, the
    /// items, the promotion.
    static func read(_ r: inout FieldReader, brief: Bool) throws(BodyError) -> Purchase {
        var p = Purchase(purchase: "", total: 0, paid: 0, bonusesSpent: 0, items: [])
        while let (tag, wire) = try r.next() {
            switch PurchaseField(rawValue: tag) {
            case .purchase?: p.purchase = try r.string(wire)
            case .total?: p.total = try r.int(wire)
            case .paid?: p.paid = try r.int(wire)
            case .bonusesSpent?: p.bonusesSpent = try r.int(wire)
            case .store?: p.store = try r.text(wire, unless: brief)
            case .seller?: p.seller = try r.text(wire, unless: brief)
            case .items?: if brief { try r.pass(wire) } else { p.items.append(try Item.read(try r.bytes(wire))) }
            case .promotion?: p.promotion = try r.text(wire, unless: brief)
            case .promoCode?: p.promoCode = try r.text(wire, unless: brief)
            case nil: try r.skip(wire)
            }
        }
        return p
    }
}

enum ReturnField: UInt64, FieldTag { case purchase = 1, returnID, amount, items, store, acceptedBy }

extension PurchaseReturn {
    func write(_ w: FieldWriter) {
        w.string(ReturnField.purchase, purchase); w.string(ReturnField.returnID, returnID); w.int(ReturnField.amount, amount)
        Item.write(items, ReturnField.items, w)
        w.string(ReturnField.store, store); w.string(ReturnField.acceptedBy, acceptedBy)
    }

    static func read(_ r: inout FieldReader, brief: Bool) throws(BodyError) -> PurchaseReturn {
        var ret = PurchaseReturn(purchase: "", returnID: "", amount: 0, items: [])
        while let (tag, wire) = try r.next() {
            switch ReturnField(rawValue: tag) {
            case .purchase?: ret.purchase = try r.string(wire)
            case .returnID?: ret.returnID = try r.string(wire)
            case .amount?: ret.amount = try r.int(wire)
            case .items?: if brief { try r.pass(wire) } else { ret.items.append(try Item.read(try r.bytes(wire))) }
            case .store?: ret.store = try r.text(wire, unless: brief)
            case .acceptedBy?: ret.acceptedBy = try r.text(wire, unless: brief)
            case nil: try r.skip(wire)
            }
        }
        return ret
    }
}

enum ItemField: UInt64, FieldTag { case sku = 1, name, category, quantity, price }

extension Item {
    /// Each item as a nested message under `tag`.
    static func write<Tag: FieldTag>(_ items: [Item], _ tag: Tag, _ w: FieldWriter) {
        for item in items {
            w.message(tag) { m in
                m.string(ItemField.sku, item.sku); m.string(ItemField.name, item.name); m.string(ItemField.category, item.category)
                m.int(ItemField.quantity, item.quantity); m.int(ItemField.price, item.price)
            }
        }
    }

    static func read(_ bytes: UnsafeRawBufferPointer) throws(BodyError) -> Item {
        var m = FieldReader(bytes)
        var i = Item(sku: "", name: "", category: "", quantity: 0, price: 0)
        while let (tag, wire) = try m.next() {
            switch ItemField(rawValue: tag) {
            case .sku?: i.sku = try m.string(wire)
            case .name?: i.name = try m.string(wire)
            case .category?: i.category = try m.string(wire)
            case .quantity?: i.quantity = try m.int(wire)
            case .price?: i.price = try m.int(wire)
            case nil: try m.skip(wire)
            }
        }
        return i
    }
}

enum OrderField: UInt64, FieldTag { case order = 1, amount }

extension OrderEvent {
    func write(_ w: FieldWriter) { w.string(OrderField.order, order); w.int(OrderField.amount, amount) }

    static func read(_ r: inout FieldReader) throws(BodyError) -> OrderEvent {
        var o = OrderEvent(order: "", amount: nil)
        while let (tag, wire) = try r.next() {
            switch OrderField(rawValue: tag) {
            case .order?: o.order = try r.string(wire)
            case .amount?: o.amount = try r.optionalInt(wire)
            case nil: try r.skip(wire)
            }
        }
        return o
    }
}
