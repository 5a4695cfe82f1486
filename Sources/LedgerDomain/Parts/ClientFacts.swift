import LedgerStorage
import LedgerBytes

/// The facts segment filters read that the client records do not hold: what each client bought
/// and returned (receipts with their store, seller or acceptor, promotion, promo code and
/// items), its custom events (name, day, context), and how far its mailings got. Kept as
/// columns by client number (the newest receipt, return and event, the most frequent store,
/// the mailing statuses) and as row tables the client's rows chain back through, so that a
/// filter reads a few columns and the rows of the clients it asks about, and never a client
/// record or the log.
///
/// Texts (stores, people, promotions, codes, SKUs, item names, categories, event names,
/// `variable=value` pairs) are interned: a row holds a name's number.
public struct ClientFacts: LedgerPart {
    public static let section = SnapshotSection.clientFacts

    /// A purchase or a return: 48 bytes.
    struct Receipt: Equatable {
        /// The same client's receipt before it (-1: none).
        var previous: Int32
        /// The day it happened (days since 1970-01-01, UTC).
        var day: Int32
        /// Name numbers (-1: not given): the store; the seller (a purchase) or who accepted it
        /// (a return); the promotion and the promo code (purchases only).
        var store: Int32, person: Int32, promotion: Int32, promoCode: Int32
        /// The end of its items in the item table (they start where the receipt before it in
        /// the table ends).
        var itemEnd: UInt32
        /// What was paid (a return: the amount given back) and the receipt's total.
        var paid: Int64, total: Int64
    }

    /// An item of a receipt: its product, quantity and price (16 bytes).
    struct Line: Equatable {
        var product: Int32
        var quantity: Int32
        var price: Int64
        /// The line's amount, price × quantity (at most 10¹² × 10⁶, inside Int64).
        var amount: Int64 { price.multipliedReportingOverflow(by: Int64(quantity)).overflow ? .max : price * Int64(quantity) }
    }

    /// A product: its SKU, name and category as name numbers.
    struct Product: Hashable { var sku: Int32, name: Int32, category: Int32 }

    /// A custom event: 16 bytes.
    struct Happening: Equatable {
        var previous: Int32
        var day: Int32
        var name: Int32
        /// The end of its `variable=value` names in ``contexts``.
        var contextEnd: UInt32
    }

    /// What a client's columns hold: its newest purchase, return and custom event (-1: none),
    /// and its mailings' furthest statuses (manual in the low four bits, automatic in the high:
    /// 0 none, 1 received, 2 opened, 3 clicked, 4 goal reached).
    struct Column: Equatable {
        var purchase: Int32 = -1, refund: Int32 = -1, happening: Int32 = -1
        var mailings: UInt8 = 0
    }

    var names = NameTable()
    var products: [Product] = []
    var productNumbers: [Product: Int32] = [:]
    /// By SKU name number: the product last met with it (-1 none). A cache for the replay, not
    /// in the snapshot: an item whose name and category are that product's is found with one
    /// name lookup.
    var productBySku: [Int32] = []
    var purchases = ChunkedArray<Receipt>()
    var purchaseLines = ChunkedArray<Line>()
    var returns = ChunkedArray<Receipt>()
    var returnLines = ChunkedArray<Line>()
    var happenings = ChunkedArray<Happening>()
    var contexts = ChunkedArray<Int32>()
    var columns = ChunkedArray<Column>()

    public init() {}

    /// The number of name `text`, if it was ever interned.
    func number(of text: String) -> Int32? { names.find(text) }

    mutating func intern(_ text: String?) -> Int32 { text.map { names.intern($0) } ?? -1 }

    mutating func product(_ p: Product) -> Int32 {
        if let known = productNumbers[p] { return known }
        let number = Int32(products.count)
        products.append(p)
        productNumbers[p] = number
        return number
    }

    mutating func lines(_ items: [Item]) -> [Line] {
        items.map { item in
            Line(product: product(Product(sku: intern(item.sku), name: intern(item.name), category: intern(item.category))),
                 quantity: Int32(clamping: item.quantity), price: item.price)
        }
    }

    /// The mailing status an event of this kind reaches (nil: none a filter asks about).
    static func mailingStatus(_ kind: EventKind) -> UInt8? {
        switch kind {
        case .mailingDelivered: 1
        case .mailingOpened: 2
        case .mailingClicked: 3
        case .mailingGoalReached: 4
        default: nil
        }
    }

    public mutating func apply(_ event: borrowing AppliedEvent) {
        switch event.kind {
        case .clientRegistered, .purchaseMade, .purchaseReturned, .custom, .mailingDelivered, .mailingOpened, .mailingClicked,
             .mailingGoalReached:
            break
        default:
            return
        }
        guard let client = event.client, client >= 0 else { return }
        let c = Int(client)
        while columns.count <= c { columns.append(Column()) }
        guard event.kind != .clientRegistered else { return }
        let day = Int32(clamping: Time.day(of: event.at))
        // The byte-level replay hands the body instead of the event: the frequent kinds are
        // read from its bytes (the same fields, the same names).
        var decoded = event.event
        if decoded == nil, let body = event.body {
            guard event.kind == .custom || event.kind == .purchaseReturned else { return applyBytes(event.kind, body, c, day) }
            decoded = try? EventCodec.decode(typeCode: event.kind.rawValue, body).event
        }
        switch decoded {
        case .purchaseMade(let p)?:
            // Names numbered in the order of the body's fields, as ``applyBytes`` meets them.
            let (store, seller) = (intern(p.store), intern(p.seller))
            for line in lines(p.items) { purchaseLines.append(line) }
            let (promotion, promoCode) = (intern(p.promotion), intern(p.promoCode))
            purchases.append(Receipt(previous: columns[c].purchase, day: day, store: store, person: seller, promotion: promotion,
                                     promoCode: promoCode, itemEnd: UInt32(purchaseLines.count), paid: p.paid, total: p.total))
            columns[c].purchase = Int32(purchases.count - 1)
        case .purchaseReturned(let r)?:
            for line in lines(r.items) { returnLines.append(line) }
            returns.append(Receipt(previous: columns[c].refund, day: day, store: intern(r.store), person: intern(r.acceptedBy),
                                   promotion: -1, promoCode: -1, itemEnd: UInt32(returnLines.count), paid: r.amount, total: r.amount))
            columns[c].refund = Int32(returns.count - 1)
        case .custom(let named)?:
            let name = intern(named.name)
            var seen = Set<Int32>()
            for (key, value) in named.context {
                let pair = intern(NamedEventIndex.contextKey(key, value.text))
                if seen.insert(pair).inserted { contexts.append(pair) }
            }
            happenings.append(Happening(previous: columns[c].happening, day: day, name: name, contextEnd: UInt32(contexts.count)))
            columns[c].happening = Int32(happenings.count - 1)
        case .mailingDelivered(let m)?, .mailingOpened(let m)?, .mailingClicked(let m)?, .mailingGoalReached(let m)?:
            noteMailing(event.kind, manual: m.kind == .manual, c)
        default:
            break
        }
    }

    mutating func noteMailing(_ kind: EventKind, manual: Bool, _ c: Int) {
        guard let status = Self.mailingStatus(kind) else { return }
        let shift: UInt8 = manual ? 0 : 4
        let bits = columns[c].mailings
        if status > (bits >> shift) & 0xF { columns[c].mailings = bits & ~(0xF << shift) | status << shift }
    }

    /// A purchase or a mailing read from its body's bytes (a body the replay has read already;
    /// a field that does not decode is left out).
    mutating func applyBytes(_ kind: EventKind, _ body: UnsafeRawBufferPointer, _ c: Int, _ day: Int32) {
        guard let header = try? EventCodec.header(body) else { return }
        var r = FieldReader(UnsafeRawBufferPointer(rebasing: body[header.fieldsStart...]))
        if kind == .purchaseMade {
            var receipt = Receipt(previous: columns[c].purchase, day: day, store: -1, person: -1, promotion: -1, promoCode: -1,
                                  itemEnd: 0, paid: 0, total: 0)
            // Names are numbered as met: in the order of the fields, which the writer puts in
            // tag order (store, seller, items, promotion, promo code), as ``apply(_:)`` does.
            do throws(BodyError) {
                while let (tag, wire) = try r.next() {
                    switch PurchaseField(rawValue: tag) {
                    case .paid?: receipt.paid = try r.int(wire)
                    case .total?: receipt.total = try r.int(wire)
                    case .store?: receipt.store = names.intern(try r.bytes(wire))
                    case .seller?: receipt.person = names.intern(try r.bytes(wire))
                    case .promotion?: receipt.promotion = names.intern(try r.bytes(wire))
                    case .promoCode?: receipt.promoCode = names.intern(try r.bytes(wire))
                    case .items?: purchaseLines.append(try line(try r.bytes(wire)))
                    case .purchase?, .bonusesSpent?, nil: try r.pass(wire)
                    }
                }
            } catch {}
            receipt.itemEnd = UInt32(purchaseLines.count)
            purchases.append(receipt)
            columns[c].purchase = Int32(purchases.count - 1)
            return
        }
        guard Self.mailingStatus(kind) != nil else { return }
        var manual = true
        while let (tag, wire) = try? r.next() {
            if MailingField(rawValue: tag) == .kind, let bytes = try? r.bytes(wire) {
                manual = !bytes.elementsEqual(MailingKind.automatic.rawValue.utf8)
            } else if (try? r.pass(wire)) == nil {
                break
            }
        }
        noteMailing(kind, manual: manual, c)
    }

    /// An item from its nested message's bytes.
    mutating func line(_ bytes: UnsafeRawBufferPointer) throws(BodyError) -> Line {
        var m = FieldReader(bytes)
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        var sku = none, itemName = none, category = none
        var quantity: Int64 = 0, price: Int64 = 0
        while let (tag, wire) = try m.next() {
            switch ItemField(rawValue: tag) {
            case .sku?: sku = try m.bytes(wire)
            case .name?: itemName = try m.bytes(wire)
            case .category?: category = try m.bytes(wire)
            case .quantity?: quantity = try m.int(wire)
            case .price?: price = try m.int(wire)
            case nil: try m.pass(wire)
            }
        }
        // (A field left out is the empty text, as the decoder reads it; numbered SKU, name, category.)
        let skuNumber = names.intern(sku)
        if Int(skuNumber) < productBySku.count, productBySku[Int(skuNumber)] >= 0 {
            let known = productBySku[Int(skuNumber)]
            let p = products[Int(known)]
            if names.equals(p.name, itemName) && names.equals(p.category, category) {
                return Line(product: known, quantity: Int32(clamping: quantity), price: price)
            }
        }
        let number = product(Product(sku: skuNumber, name: names.intern(itemName), category: names.intern(category)))
        while productBySku.count <= Int(skuNumber) { productBySku.append(-1) }
        productBySku[Int(skuNumber)] = number
        return Line(product: number, quantity: Int32(clamping: quantity), price: price)
    }

    /// The store of most purchases in the chain from `newest` back: of equals, the one bought
    /// at first (-1: no purchase named a store). Computed when asked: a short chain (most
    /// clients') is counted in place, allocating nothing; a long one (a client with thousands
    /// of purchases) through a table of counts, so that it stays linear.
    func frequentStore(from newest: Int32) -> Int32 {
        var length = 0
        var k = newest
        while k >= 0 && length <= Self.shortChain { length += 1; k = purchases[Int(k)].previous }
        var best: Int32 = -1, bestCount = 0, bestFirst = Int32.max
        func consider(_ store: Int32, _ count: Int, _ first: Int32) {
            if count > bestCount || (count == bestCount && first < bestFirst) { (best, bestCount, bestFirst) = (store, count, first) }
        }
        if length > Self.shortChain {
            var counts: [Int32: (count: Int, first: Int32)] = [:]
            k = newest
            while k >= 0 {
                let r = purchases[Int(k)]
                if r.store >= 0 { counts[r.store, default: (0, k)].count += 1; counts[r.store]!.first = k }
                k = r.previous
            }
            for (store, c) in counts { consider(store, c.count, c.first) }
            return best
        }
        k = newest
        while k >= 0 {
            let store = purchases[Int(k)].store
            if store >= 0 && store != best {
                var count = 0, first = k
                var j = newest
                while j >= 0 {
                    let r = purchases[Int(j)]
                    if r.store == store { count += 1; first = j }
                    j = r.previous
                }
                consider(store, count, first)
            }
            k = purchases[Int(k)].previous
        }
        return best
    }

    /// The longest purchase chain `frequentStore` counts in place (its cost is the square).
    static let shortChain = 32

    /// The item lines of receipt `k` of `receipts`.
    func lines(of k: Int, in receipts: ChunkedArray<Receipt>) -> Range<Int> {
        (k == 0 ? 0 : Int(receipts[k - 1].itemEnd))..<Int(receipts[k].itemEnd)
    }

    /// The `variable=value` names of custom event `k`.
    func contextRange(of k: Int) -> Range<Int> {
        (k == 0 ? 0 : Int(happenings[k - 1].contextEnd))..<Int(happenings[k].contextEnd)
    }

    // MARK: snapshot (data-format.md §13.5, section 17)

    /// Whether the rows' in-memory layout is their snapshot layout (then a restored table is
    /// used where it lies in the mapped snapshot, not copied).
    static let mappable = MemoryLayout<Receipt>.stride == 48 && MemoryLayout<Receipt>.offset(of: \Receipt.itemEnd) == 24
        && MemoryLayout<Receipt>.offset(of: \Receipt.paid) == 32 && MemoryLayout<Line>.stride == 16
        && MemoryLayout<Line>.offset(of: \Line.price) == 8 && MemoryLayout<Happening>.stride == 16
        && MemoryLayout<Happening>.offset(of: \Happening.contextEnd) == 12 && MemoryLayout<Column>.stride == 16
        && MemoryLayout<Column>.offset(of: \Column.mailings) == 12

    static func put<T>(_ table: ChunkedArray<T>, width: Int, _ e: SectionEncoder, _ row: (T, UnsafeMutableRawBufferPointer) -> Void) {
        e.putChunkedRows(count: table.count, width: width, chunkRows: ChunkedArray<T>.elementsPerChunk) { k, bytes in row(table[k], bytes) }
    }

    /// A chunked row table: where it lies when it can be, else decoded row by row. Its rows
    /// are checked by the caller.
    static func table<T>(_ d: inout SectionDecoder, _ what: String, width: Int, _ decode: (RowReader) -> T) throws(SectionError) -> ChunkedArray<T> {
        let (count, bytes) = try d.getChunkedRows(what, width: width, chunkRows: ChunkedArray<T>.elementsPerChunk)
        if let owner = d.owner, count > 0, mappable, MemoryLayout<T>.stride == width {
            return ChunkedArray(mapping: UnsafeMutableRawPointer(mutating: bytes.baseAddress!), count: count, owner: owner)
        }
        var table = ChunkedArray<T>()
        for k in 0..<count { table.append(decode(RowReader(bytes: UnsafeRawBufferPointer(rebasing: bytes[(k * width)..<((k + 1) * width)])))) }
        return table
    }

    public func write(to e: SectionEncoder) {
        e.put(UInt64(names.count))
        for name in names.names { e.putText(name) }
        e.putRows(count: products.count, width: 12) { k, row in
            row.put(products[k].sku, 0); row.put(products[k].name, 4); row.put(products[k].category, 8)
        }
        for (receipts, lines) in [(purchases, purchaseLines), (returns, returnLines)] {
            Self.put(receipts, width: 48, e) { r, row in
                row.put(r.previous, 0); row.put(r.day, 4); row.put(r.store, 8); row.put(r.person, 12)
                row.put(r.promotion, 16); row.put(r.promoCode, 20); row.put(r.itemEnd, 24); row.put(r.paid, 32); row.put(r.total, 40)
            }
            Self.put(lines, width: 16, e) { l, row in row.put(l.product, 0); row.put(l.quantity, 4); row.put(l.price, 8) }
        }
        Self.put(happenings, width: 16, e) { h, row in
            row.put(h.previous, 0); row.put(h.day, 4); row.put(h.name, 8); row.put(h.contextEnd, 12)
        }
        Self.put(contexts, width: 4, e) { c, row in row.put(c, 0) }
        Self.put(columns, width: 16, e) { c, row in
            row.put(c.purchase, 0); row.put(c.refund, 4); row.put(c.happening, 8); row.put(c.mailings, 12)
        }
    }

    public init(from d: inout SectionDecoder, clients: Int) throws(SectionError) {
        func fail(_ reason: String) -> SectionError { SectionError(Self.section.name, reason) }
        let nameCount = try d.getCount("the names", width: 8)
        for k in 0..<nameCount {
            let text = try d.getText("a name")
            guard names.intern(text) == Int32(k) else { throw fail("the name '\(text)' is listed twice") }
        }
        let n = Int32(names.count)
        func named(_ value: Int32, optional: Bool = true) -> Bool { value < n && value >= (optional ? -1 : 0) }
        try d.getRows("the products", width: 12) { k, row throws(SectionError) in
            let p = Product(sku: row.get(Int32.self, 0), name: row.get(Int32.self, 4), category: row.get(Int32.self, 8))
            guard named(p.sku, optional: false), named(p.name, optional: false), named(p.category, optional: false) else {
                throw fail("product \(k) names a name outside the \(n) names")
            }
            guard productNumbers[p] == nil else { throw fail("product \(k) is listed twice") }
            productNumbers[p] = Int32(k)
            products.append(p)
        }
        let productCount = Int32(products.count)
        func receipts(_ what: String) throws(SectionError) -> (ChunkedArray<Receipt>, ChunkedArray<Line>) {
            let receipts = try Self.table(&d, "the \(what)", width: 48) { row in
                Receipt(previous: row.get(Int32.self, 0), day: row.get(Int32.self, 4), store: row.get(Int32.self, 8),
                        person: row.get(Int32.self, 12), promotion: row.get(Int32.self, 16), promoCode: row.get(Int32.self, 20),
                        itemEnd: row.get(UInt32.self, 24), paid: row.get(Int64.self, 32), total: row.get(Int64.self, 40))
            }
            let lines = try Self.table(&d, "the \(what)' items", width: 16) { row in
                Line(product: row.get(Int32.self, 0), quantity: row.get(Int32.self, 4), price: row.get(Int64.self, 8))
            }
            var lastEnd: UInt32 = 0
            for k in 0..<receipts.count {
                let r = receipts[k]
                guard r.previous >= -1, r.previous < Int32(k) else { throw fail("\(what) \(k) chains to \(r.previous), not one before it") }
                guard named(r.store), named(r.person), named(r.promotion), named(r.promoCode) else {
                    throw fail("\(what) \(k) names a name outside the \(n) names")
                }
                guard r.itemEnd >= lastEnd else { throw fail("\(what) \(k)'s items end at \(r.itemEnd), before the one before it (\(lastEnd))") }
                lastEnd = r.itemEnd
            }
            guard lastEnd == UInt32(lines.count) else { throw fail("the \(what)' items end at \(lastEnd), but \(lines.count) are listed") }
            for k in 0..<lines.count where lines[k].product < 0 || lines[k].product >= productCount {
                throw fail("\(what) item \(k) names product \(lines[k].product), of \(productCount)")
            }
            return (receipts, lines)
        }
        (purchases, purchaseLines) = try receipts("purchases")
        (returns, returnLines) = try receipts("returns")
        happenings = try Self.table(&d, "the custom events", width: 16) { row in
            Happening(previous: row.get(Int32.self, 0), day: row.get(Int32.self, 4), name: row.get(Int32.self, 8), contextEnd: row.get(UInt32.self, 12))
        }
        contexts = try Self.table(&d, "the context values", width: 4) { row in row.get(Int32.self, 0) }
        var lastEnd: UInt32 = 0
        for k in 0..<happenings.count {
            let h = happenings[k]
            guard h.previous >= -1, h.previous < Int32(k) else { throw fail("custom event \(k) chains to \(h.previous), not one before it") }
            guard named(h.name, optional: false) else { throw fail("custom event \(k)'s name \(h.name) is outside the \(n) names") }
            guard h.contextEnd >= lastEnd else { throw fail("custom event \(k)'s context ends before the one before it") }
            lastEnd = h.contextEnd
        }
        guard lastEnd == UInt32(contexts.count) else { throw fail("the custom events' contexts end at \(lastEnd), but \(contexts.count) are listed") }
        for k in 0..<contexts.count where !named(contexts[k], optional: false) { throw fail("context value \(k) names name \(contexts[k]), of \(n)") }
        columns = try Self.table(&d, "the client columns", width: 16) { row in
            Column(purchase: row.get(Int32.self, 0), refund: row.get(Int32.self, 4), happening: row.get(Int32.self, 8), mailings: row.get(UInt8.self, 12))
        }
        guard columns.count <= clients else { throw fail("\(columns.count) clients' columns, but the state has \(clients) clients") }
        let (purchaseCount, returnCount, eventCount) = (Int32(purchases.count), Int32(returns.count), Int32(happenings.count))
        for k in 0..<columns.count {
            let c = columns[k]
            guard c.purchase >= -1, c.purchase < purchaseCount, c.refund >= -1, c.refund < returnCount, c.happening >= -1, c.happening < eventCount else {
                throw fail("client \(k)'s newest purchase, return or event is outside their tables")
            }
            guard c.mailings & 0xF <= 4, c.mailings >> 4 <= 4 else { throw fail("client \(k)'s mailing statuses \(c.mailings) are not statuses") }
        }
    }

    public func checkInvariants(clients: Int) {
        precondition(columns.count <= clients, "client facts: \(columns.count) columns for \(clients) clients")
        precondition(names.names.count == names.lowered.count, "client facts: the name table disagrees with itself")
        precondition(products.count == productNumbers.count, "client facts: the product table disagrees with itself")
        precondition(purchases.last.map { Int($0.itemEnd) == purchaseLines.count } ?? purchaseLines.isEmpty, "client facts: purchase items")
        precondition(returns.last.map { Int($0.itemEnd) == returnLines.count } ?? returnLines.isEmpty, "client facts: return items")
        precondition(happenings.last.map { Int($0.contextEnd) == contexts.count } ?? contexts.isEmpty, "client facts: contexts")
    }
}
