/// Commands as a caller writes them: one constructor per thing a service asks the ledger to
/// do, with typed amounts, times and ids. Each builds the same ``Command`` as the JSON line of
/// the same fields (a test checks every pair), so the two ways in agree.
///
/// ```swift
/// let buy = Command.purchase(client: "c1", Purchase(id: "p1", total: Money(1200), paid: Money(1000),
///                                                   bonusesSpent: Bonus(200)), key: "till-7-0002")
/// ```
/// `at` is the time of the operation (nil: the ledger's clock when it is decided); `key` an
/// idempotency key (a resend of the same key is answered `repeated`, never recorded twice).
extension Command {
    /// Any event a caller may submit, for the types with no constructor of their own
    /// (mailings, messengers, orders, Wallet, custom events, segments…).
    public static func event(_ event: DomainEvent, client: ClientID, at: Timestamp? = nil, key: String? = nil) -> Command {
        Command(at: at?.microsecondsSince1970, client: client.rawValue, key: key, .event(event))
    }

    /// `client.registered`: a new client with what identifies them.
    public static func register(client: ClientID, _ registration: Registration, at: Timestamp? = nil, key: String? = nil) -> Command {
        event(.clientRegistered(registration), client: client, at: at, key: key)
    }

    /// `purchase.made`: a receipt; the rules accrue its bonuses.
    public static func purchase(client: ClientID, _ purchase: Purchase, at: Timestamp? = nil, key: String? = nil) -> Command {
        event(.purchaseMade(purchase), client: client, at: at, key: key)
    }

    /// `purchase.returned`: money given back for (part of) a purchase; its bonuses are taken back
    /// in proportion, and bonuses spent on it are refunded.
    public static func `return`(client: ClientID, _ purchaseReturn: PurchaseReturn, at: Timestamp? = nil, key: String? = nil) -> Command {
        event(.purchaseReturned(purchaseReturn), client: client, at: at, key: key)
    }

    /// `bonus.accrued` by hand or by a campaign: `expiresAt` nil takes the rules' lifetime.
    public static func accrue(client: ClientID, _ amount: Bonus, reason: AccrualReason = .manual, expiresAt: Timestamp? = nil,
                              source: String? = nil, comment: String? = nil, operatorName: String? = nil,
                              at: Timestamp? = nil, key: String? = nil) -> Command {
        let accrual = Accrual(amount: amount.minorUnits, reason: reason, expiresAt: expiresAt?.microsecondsSince1970 ?? 0, source: source,
                              comment: comment, operatorName: operatorName, customExpiry: expiresAt != nil)
        return event(.bonusAccrued(accrual), client: client, at: at, key: key)
    }

    /// `bonus.written_off`: spends available bonuses (earliest expiry first); refused
    /// `insufficient_balance` with what is available when there is not enough.
    public static func writeOff(client: ClientID, _ amount: Bonus, reason: WriteOffReason = .manual, purchase: String? = nil,
                                comment: String? = nil, operatorName: String? = nil, at: Timestamp? = nil, key: String? = nil) -> Command {
        let writeOff = WriteOff(amount: amount.minorUnits, reason: reason, purchase: purchase, comment: comment, operatorName: operatorName)
        return event(.bonusWrittenOff(writeOff), client: client, at: at, key: key)
    }

    /// `bonus.reserved`: holds bonuses for an order until it is closed (captured) or cancelled
    /// (released).
    public static func reserve(client: ClientID, order: String, _ amount: Bonus, at: Timestamp? = nil, key: String? = nil) -> Command {
        event(.bonusReserved(Reservation(order: order, amount: amount.minorUnits)), client: client, at: at, key: key)
    }

    /// `order.closed`: captures what the order holds.
    public static func closeOrder(client: ClientID, order: String, at: Timestamp? = nil, key: String? = nil) -> Command {
        event(.orderClosed(OrderEvent(order: order, amount: nil)), client: client, at: at, key: key)
    }

    /// `order.cancelled`: releases what the order holds.
    public static func cancelOrder(client: ClientID, order: String, at: Timestamp? = nil, key: String? = nil) -> Command {
        event(.orderCancelled(OrderEvent(order: order, amount: nil)), client: client, at: at, key: key)
    }

    /// `bonus.corrected`: voids a mistaken manual accrual, named by its position in the log.
    public static func correct(client: ClientID, accrual position: UInt64, comment: String? = nil,
                               at: Timestamp? = nil, key: String? = nil) -> Command {
        Command(at: at?.microsecondsSince1970, client: client.rawValue, key: key, .correct(lot: position, comment: comment))
    }

    /// `level.set`: a level by hand (nil: back to the level the rules give).
    public static func setLevel(client: ClientID, _ level: String?, at: Timestamp? = nil, key: String? = nil) -> Command {
        Command(at: at?.microsecondsSince1970, client: client.rawValue, key: key, .setLevel(level))
    }

    /// `client.blocked` / `client.unblocked`: a blocked client earns and spends nothing.
    public static func block(client: ClientID, comment: String? = nil, at: Timestamp? = nil, key: String? = nil) -> Command {
        event(.clientBlocked(comment: comment), client: client, at: at, key: key)
    }

    public static func unblock(client: ClientID, comment: String? = nil, at: Timestamp? = nil, key: String? = nil) -> Command {
        event(.clientUnblocked(comment: comment), client: client, at: at, key: key)
    }

    /// `rules.changed`: some fields of the rules; the rest stay.
    public static func changeRules(_ patch: RulesPatch, at: Timestamp? = nil, key: String? = nil) -> Command {
        Command(at: at?.microsecondsSince1970, client: "", key: key, .changeRules(patch))
    }

    /// The command's time, typed (nil: the ledger's clock when decided).
    public var timestamp: Timestamp? { at.map(Timestamp.init(microsecondsSince1970:)) }
}

// Typed initialisers of the payloads with amounts (the `Int64` ones take the log's minor units,
// as the JSON input does).
extension Purchase {
    /// A receipt: `total` before bonuses, `bonusesSpent` of it paid with bonuses, `paid` the
    /// money (nil: `total − bonusesSpent`, as the JSON input's default).
    public init(id: String, total: Money, paid: Money? = nil, bonusesSpent: Bonus = .zero, items: [Item] = [],
                store: String? = nil, seller: String? = nil, promotion: String? = nil, promoCode: String? = nil) {
        let paidMinor = paid?.minorUnits ?? total.minorUnits.subtractingReportingOverflow(bonusesSpent.minorUnits).partialValue
        self.init(purchase: id, total: total.minorUnits, paid: paidMinor, bonusesSpent: bonusesSpent.minorUnits, store: store,
                  seller: seller, items: items, promotion: promotion, promoCode: promoCode)
    }
}

extension PurchaseReturn {
    /// A return of (part of) purchase `purchase`: `refund` is the money given back.
    public init(purchase: String, id: String, refund: Money, items: [Item] = [], store: String? = nil, acceptedBy: String? = nil) {
        self.init(purchase: purchase, returnID: id, amount: refund.minorUnits, items: items, store: store, acceptedBy: acceptedBy)
    }
}

extension Item {
    /// A line of a receipt: `price` of one unit.
    public init(sku: String, name: String, category: String, quantity: Int64 = 1, price: Money) {
        self.init(sku: sku, name: name, category: category, quantity: quantity, price: price.minorUnits)
    }
}
