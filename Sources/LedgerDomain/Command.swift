/// An operation to check and record: what a caller submits.
public struct Command: Sendable {
    public enum Operation: Sendable {
        /// The requested event; the engine fills what it computes (lots, dates, old values).
        case event(DomainEvent)
        /// Void a mistaken manual accrual (its lot is named by the accrual's position).
        case correct(lot: UInt64, comment: String?)
        /// Set a client's level by hand (nil: back to the level the rules give).
        case setLevel(String?)
        /// Change some of the rules; the rest stay.
        case changeRules(RulesPatch)
    }

    public var at: Micros?
    /// Empty for operations of no client.
    public var client: String
    public var key: String?
    public var operation: Operation

    public init(at: Micros? = nil, client: String, key: String? = nil, _ operation: Operation) {
        self.at = at; self.client = client; self.key = key; self.operation = operation
    }

    public init(at: Micros? = nil, client: String, key: String? = nil, event: DomainEvent) {
        self.init(at: at, client: client, key: key, .event(event))
    }

    /// The type name of what is asked, for refusals.
    public var typeName: String {
        switch operation {
        case .event(let e): e.kind.name
        case .correct: "bonus.corrected"
        case .setLevel: "level.set"
        case .changeRules: "rules.changed"
        }
    }
}

/// Some fields of the rules, for `rules.changed`.
public struct RulesPatch: Sendable, Equatable {
    public var accrualBasisPoints: Int64?
    public var pendingDays: Int64?
    public var lifetimeDays: Int64?
    public var returnPolicy: ReturnPolicy?
    public var birthdayBonus: Int64?
    public var welcomeBonus: Int64?
    public var levels: [LevelRule]?
    public var levelBasisIsCount: Bool?
    public var levelWindowDays: Int64?
    public var newClientDays: Int64?
    public var activeDays: Int64?
    public var lostDays: Int64?
    public init() {}

    func applied(to rules: Rules) -> Rules {
        var r = rules
        r.version += 1
        if let v = accrualBasisPoints { r.accrualBasisPoints = v }
        if let v = pendingDays { r.pendingDays = v }
        if let v = lifetimeDays { r.lifetimeDays = v }
        if let v = returnPolicy { r.returnPolicy = v }
        if let v = birthdayBonus { r.birthdayBonus = v }
        if let v = welcomeBonus { r.welcomeBonus = v }
        if let v = levels { r.levels = v.sorted { $0.threshold < $1.threshold } }
        if let v = levelBasisIsCount { r.levelBasisIsCount = v }
        if let v = levelWindowDays { r.levelWindowDays = v }
        if let v = newClientDays { r.newClientDays = v }
        if let v = activeDays { r.activeDays = v }
        if let v = lostDays { r.lostDays = v }
        return r
    }
}

/// The answer to one command.
public enum Outcome: Sendable, Equatable, Codable {
    /// Recorded: the positions of its events (the cause and what it derived).
    case accepted(ClosedRange<UInt64>)
    /// Refused: why (one case per contract code, with the data that explains it; its
    /// ``RefusalReason/code`` is the contract's string), a message for people, and the position
    /// of the `operation.refused` event when the refusal was journaled (a known client).
    case refused(RefusalReason, message: String, recorded: UInt64?)
    /// An idempotency key or return id seen before: the original answer; nothing appended.
    case repeated(IdempotentAnswer)

    public var isAccepted: Bool {
        switch self {
        case .accepted: true
        case .refused: false
        case .repeated(let answer): if case .accepted = answer { true } else { false }
        }
    }
}

/// Stable error codes (interface.md, and a few more this engine needs).
/// The refusal codes of interface.md, each carrying the contract's string (`rawValue`), which
/// the JSON output and the journal's `operation.refused` events use.
public enum ErrorCode: String, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case unknownClient = "unknown_client"
    case duplicateClient = "duplicate_client"
    case phoneTaken = "phone_taken"
    case cardTaken = "card_taken"
    case missingIdentity = "missing_identity"
    case clientBlocked = "client_blocked"
    case clientDeleted = "client_deleted"
    case insufficientBalance = "insufficient_balance"
    case unknownOrder = "unknown_order"
    case orderClosed = "order_closed"
    case unknownPurchase = "unknown_purchase"
    case duplicatePurchase = "duplicate_purchase"
    case returnExceedsPaid = "return_exceeds_paid"
    case invalidAmount = "invalid_amount"
    case outOfOrder = "out_of_order"
    case notAllowed = "not_allowed"
    case invalidEvent = "invalid_event"
    case unknownCard = "unknown_card"
    case unknownLot = "unknown_lot"
    case notCorrectable = "not_correctable"
    case alreadyCorrected = "already_corrected"
    case unknownLevel = "unknown_level"
    /// An event time further ahead of the engine's clock than the ledger's tolerance: one typo
    /// in a year would otherwise make every later real event `out_of_order`, for good.
    case timeInFuture = "time_in_future"

    public var description: String { rawValue }
}

/// Why a command was refused: one case per refusal code of the contract (interface.md), with
/// what explains it, typed (``Bonus``, ``Money``, ``Timestamp``). ``code`` gives the contract's code.
public enum RefusalReason: Sendable, Equatable, Codable, CustomStringConvertible {
    case unknownClient(client: String)
    case duplicateClient(client: String)
    case phoneTaken(phone: String, holder: String)
    case cardTaken(card: String, holder: String)
    /// A profile with neither a phone nor a card.
    case missingIdentity
    case clientBlocked(client: String)
    case clientDeleted(client: String)
    /// More than the client (or the order) has: `available` is what there is.
    case insufficientBalance(requested: Bonus, available: Bonus)
    case unknownOrder(order: String)
    case orderClosed(order: String)
    case unknownPurchase(purchase: String)
    case duplicatePurchase(purchase: String)
    /// A return of more than is left of what the purchase paid: `returnable` is what is left.
    case returnExceedsPaid(requested: Money, returnable: Money)
    case invalidAmount(field: String?)
    /// A time before the log's last event.
    case outOfOrder(at: Timestamp, last: Timestamp)
    /// A limit of the ledger the command would pass.
    case notAllowed
    case invalidEvent(field: String?)
    case unknownCard(card: String)
    case unknownLot(position: UInt64)
    case notCorrectable(position: UInt64)
    case alreadyCorrected(position: UInt64)
    case unknownLevel(level: String)
    /// A time further ahead of the clock than the ledger's tolerance.
    case timeInFuture(at: Timestamp)

    /// The contract's code.
    public var code: ErrorCode {
        switch self {
        case .unknownClient: .unknownClient
        case .duplicateClient: .duplicateClient
        case .phoneTaken: .phoneTaken
        case .cardTaken: .cardTaken
        case .missingIdentity: .missingIdentity
        case .clientBlocked: .clientBlocked
        case .clientDeleted: .clientDeleted
        case .insufficientBalance: .insufficientBalance
        case .unknownOrder: .unknownOrder
        case .orderClosed: .orderClosed
        case .unknownPurchase: .unknownPurchase
        case .duplicatePurchase: .duplicatePurchase
        case .returnExceedsPaid: .returnExceedsPaid
        case .invalidAmount: .invalidAmount
        case .outOfOrder: .outOfOrder
        case .notAllowed: .notAllowed
        case .invalidEvent: .invalidEvent
        case .unknownCard: .unknownCard
        case .unknownLot: .unknownLot
        case .notCorrectable: .notCorrectable
        case .alreadyCorrected: .alreadyCorrected
        case .unknownLevel: .unknownLevel
        case .timeInFuture: .timeInFuture
        }
    }

    /// The contract's code (`insufficient_balance`, …).
    public var description: String { code.rawValue }

    /// The reason of malformed input the parser refused (``InvalidInput``).
    public init(_ invalid: InvalidInput) {
        self = invalid.code == .invalidAmount ? .invalidAmount(field: invalid.field) : .invalidEvent(field: invalid.field)
    }
}

struct Refuse: Error {
    var reason: RefusalReason
    var code: ErrorCode { reason.code }
    var message: String
    /// Whether the refusal is journaled as `operation.refused` (for a known client). Malformed
    /// input (an amount out of range, a time the engine cannot hold, an expiry before the
    /// activation) is refused without being recorded: `operation.refused` is for well-formed
    /// operations the ledger's state refuses.
    var journaled = true

    init(_ reason: RefusalReason, message: String) {
        self.reason = reason
        self.message = message
    }

    /// Malformed input: refused for `reason`, never recorded.
    static func malformed(_ reason: RefusalReason, _ message: String) -> Refuse {
        var refusal = Refuse(reason, message: message)
        refusal.journaled = false
        return refusal
    }
}

/// The largest amounts a command may carry. Amounts are Int64 minor units (kopecks): with every
/// amount at most 10¹² (ten billion roubles or bonuses) and a receipt line at most a million
/// units, no balance, receipt or window sum can pass Int64 (9.2 × 10¹⁸) before millions of
/// commands at the limit, and the ledger's accrued total, which bounds every balance summed
/// over clients, is refused past 2⁶² outright.
public enum AmountLimits {
    public static let amountMax: Int64 = 1_000_000_000_000
    public static let quantityMax: Int64 = 1_000_000
    public static let ledgerAccruedMax: Int64 = 1 << 62
}
