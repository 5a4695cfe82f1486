/// The journal categories of domain.md §3.
public enum Category: String, Sendable, CaseIterable, Codable {
    case bonuses, mailings, purchases, segments, other
}

/// Why bonuses were accrued.
public enum AccrualReason: String, Sendable, CaseIterable, Codable {
    case purchase, manual, api, mailing, promotion, birthday, welcome
    /// Bonuses spent on a returned share of a receipt, given back as a new lot.
    case refund
}

/// What kind of lot-touching operation a refusal or a write-off was.
public enum WriteOffReason: String, Sendable, CaseIterable { case purchase, manual }
public enum CancelReason: String, Sendable, CaseIterable { case `return`, correction }
public enum Channel: String, Sendable, CaseIterable, Codable { case email, sms, viber, telegram, push }
public enum MailingKind: String, Sendable, CaseIterable { case manual, automatic }
public enum WalletPlatform: String, Sendable, CaseIterable, Codable { case apple, google }
public enum ParticipationStatus: String, Sendable, CaseIterable, Codable { case participant, subscriber, blocked }
public enum Gender: String, Sendable, CaseIterable, Codable { case female, male }

/// A part of a lot that an operation took: the lot is named by the position of its accrual.
public struct LotTake: Sendable, Equatable {
    public var lot: UInt64
    public var amount: Int64
    public init(lot: UInt64, amount: Int64) { self.lot = lot; self.amount = amount }
}

public struct Accrual: Sendable, Equatable {
    public var amount: Int64
    public var reason: AccrualReason
    public var activatesAt: Micros
    public var expiresAt: Micros
    /// The purchase, mailing, campaign or return the bonuses come from.
    public var source: String?
    public var comment: String?
    public var operatorName: String?
    /// Part of the amount that paid off the client's debt at once (for lots active at accrual).
    public var debtPaid: Int64 = 0
    /// Whether the expiry was given by hand rather than by the rules.
    public var customExpiry: Bool = false
}

public struct Activation: Sendable, Equatable {
    public var lot: UInt64
    public var amount: Int64
    public var debtPaid: Int64
}

public struct WriteOff: Sendable, Equatable {
    public var amount: Int64
    public var reason: WriteOffReason
    public var purchase: String?
    public var comment: String?
    public var operatorName: String?
    public var lots: [LotTake]
}

/// A reservation for an order, or the capture or release of what an order holds.
public struct Reservation: Sendable, Equatable {
    public var order: String
    public var amount: Int64
    public var lots: [LotTake]
}

public struct Expiry: Sendable, Equatable {
    public var lot: UInt64
    public var amount: Int64
}

public struct Cancellation: Sendable, Equatable {
    public var amount: Int64
    public var reason: CancelReason
    public var purchase: String?
    public var returnID: String?
    /// For a correction: the accrual (lot) that is voided.
    public var correctedLot: UInt64?
    public var lots: [LotTake]
    /// What could not be taken back and became the client's debt (policy `unlimited`).
    public var debt: Int64
    /// What could not be taken back and was forgiven (policies `onlyPending`, `withinBalance`).
    public var forgiven: Int64
    public var comment: String?
}

public struct Item: Sendable, Equatable {
    public var sku: String
    public var name: String
    public var category: String
    public var quantity: Int64
    /// Price of one unit in kopecks.
    public var price: Int64
    public init(sku: String, name: String, category: String, quantity: Int64, price: Int64) {
        self.sku = sku; self.name = name; self.category = category; self.quantity = quantity; self.price = price
    }
}

public struct Purchase: Sendable, Equatable {
    public var purchase: String
    public var total: Int64
    public var paid: Int64
    public var bonusesSpent: Int64
    public var store: String?
    public var seller: String?
    public var items: [Item]
    public var promotion: String?
    public var promoCode: String?

    /// A receipt: `total` before bonuses, `bonusesSpent` of it paid with bonuses, `paid` the
    /// money (at most total − bonusesSpent; the JSON input's default is exactly that).
    public init(purchase: String, total: Int64, paid: Int64, bonusesSpent: Int64 = 0, store: String? = nil, seller: String? = nil,
                items: [Item] = [], promotion: String? = nil, promoCode: String? = nil) {
        self.purchase = purchase; self.total = total; self.paid = paid; self.bonusesSpent = bonusesSpent; self.store = store
        self.seller = seller; self.items = items; self.promotion = promotion; self.promoCode = promoCode
    }
}

public struct PurchaseReturn: Sendable, Equatable {
    public var purchase: String
    public var returnID: String
    /// Money given back, in kopecks: the returned share of what was paid.
    public var amount: Int64
    public var items: [Item]
    public var store: String?
    public var acceptedBy: String?

    public init(purchase: String, returnID: String, amount: Int64, items: [Item] = [], store: String? = nil, acceptedBy: String? = nil) {
        self.purchase = purchase; self.returnID = returnID; self.amount = amount; self.items = items; self.store = store
        self.acceptedBy = acceptedBy
    }
}

public struct OrderEvent: Sendable, Equatable {
    public var order: String
    public var amount: Int64?
    public init(order: String, amount: Int64?) { self.order = order; self.amount = amount }
}

public struct MailingEvent: Sendable, Equatable {
    public var mailing: String
    public var channel: Channel
    public var kind: MailingKind
    public var error: String?

    public init(mailing: String, channel: Channel, kind: MailingKind = .manual, error: String? = nil) {
        self.mailing = mailing; self.channel = channel; self.kind = kind; self.error = error
    }
}

public struct Registration: Sendable, Equatable {
    public var phone: String?
    public var cards: [String]
    public var name: String?
    public var email: String?
    public var gender: Gender?
    /// Day number of the birthday.
    public var birthday: Int64?
    public var place: String?
    public var addedBy: String?
    public var status: ParticipationStatus

    /// A client's registration: a phone or at least one card is required (the engine refuses
    /// a profile with neither); `birthday` is a day number (``Time/day(of:)``).
    public init(phone: String? = nil, cards: [String] = [], name: String? = nil, email: String? = nil, gender: Gender? = nil,
                birthday: Int64? = nil, place: String? = nil, addedBy: String? = nil, status: ParticipationStatus = .participant) {
        self.phone = phone; self.cards = cards; self.name = name; self.email = email; self.gender = gender
        self.birthday = birthday; self.place = place; self.addedBy = addedBy; self.status = status
    }
}

/// One field of a profile change, with its old and new values (nil = empty).
public struct FieldChange: Sendable, Equatable {
    public var field: String
    public var old: String?
    public var new: String?

    /// A profile field's new value (nil: cleared); the engine fills the old one.
    public init(field: String, old: String? = nil, new: String?) {
        self.field = field; self.old = old; self.new = new
    }
}

public struct LevelChange: Sendable, Equatable {
    public var from: String?
    public var to: String?
    /// Set by an operator: stays until changed by hand.
    public var manual: Bool
}

/// A value in a custom or system event's context.
public enum ContextValue: Sendable, Equatable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case date(Micros)

    public var text: String {
        switch self {
        case .string(let s): return s
        case .number(let n): return n == n.rounded() && abs(n) < 1e15 ? String(Int64(n)) : String(n)
        case .bool(let b): return b ? "true" : "false"
        case .date(let d): return Time.iso(d)
        }
    }
}

public struct NamedEvent: Sendable, Equatable {
    public var name: String
    public var context: [(String, ContextValue)]
    public static func == (a: NamedEvent, b: NamedEvent) -> Bool {
        a.name == b.name && a.context.count == b.context.count && zip(a.context, b.context).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public init(name: String, context: [(String, ContextValue)] = []) {
        self.name = name; self.context = context
    }
}

public struct SegmentDefinition: Sendable, Equatable {
    public var name: String
    public var color: String?
    /// The filters as the JSON text of interface.md (evaluated by the segment engine).
    public var filters: String
    public var version: Int64

    /// `filters`: the JSON text of the segment's filters (interface.md).
    public init(name: String, color: String? = nil, filters: String, version: Int64 = 1) {
        self.name = name; self.color = color; self.filters = filters; self.version = version
    }
}

/// A well-formed operation that the ledger refused for a known client.
public struct Refusal: Sendable, Equatable {
    public var code: String
    /// The refused operation's type name (`bonus.written_off`, …).
    public var operation: String
    public var message: String
    public var amount: Int64?
    /// The occasion refused, for what the engine decides itself: `birthday-2025` for a
    /// birthday bonus refused (the year's birthday is then decided, as a given one is).
    public var source: String? = nil
}

/// A client entering or leaving a dynamic segment: the segment, and the position of the event
/// whose change of the client's facts caused it (nil: the passing of time, an advance step's
/// new day, or the segment's definition itself when it is the cause).
public struct SegmentTransition: Sendable, Equatable {
    public var segment: String
    public var cause: UInt64?
    public init(segment: String, cause: UInt64?) { self.segment = segment; self.cause = cause }
}

/// Every event of the loyalty domain. The case decides the type code and name, which never
/// change once given out.
public enum DomainEvent: Sendable, Equatable {
    case bonusAccrued(Accrual)
    case bonusActivated(Activation)
    case bonusWrittenOff(WriteOff)
    case bonusReserved(Reservation)
    case bonusReserveReleased(Reservation)
    case bonusReserveCaptured(Reservation)
    case bonusExpired(Expiry)
    case bonusCancelled(Cancellation)
    case mailingSent(MailingEvent)
    case mailingDelivered(MailingEvent)
    case mailingOpened(MailingEvent)
    case mailingClicked(MailingEvent)
    case mailingGoalReached(MailingEvent)
    case mailingFailed(MailingEvent)
    case messengerSubscribed(Channel)
    case messengerUnsubscribed(Channel)
    case purchaseMade(Purchase)
    case purchaseReturned(PurchaseReturn)
    case orderPlaced(OrderEvent)
    case orderClosed(OrderEvent)
    case orderCancelled(OrderEvent)
    case segmentEntered(SegmentTransition)
    case segmentLeft(SegmentTransition)
    case segmentAssigned(String)
    case segmentUnassigned(String)
    case clientRegistered(Registration)
    case profileChanged([FieldChange])
    case cardAdded(String)
    case cardRemoved(String)
    case clientBlocked(comment: String?)
    case clientUnblocked(comment: String?)
    case clientDeleted(comment: String?)
    case walletInstalled(WalletPlatform)
    case walletRemoved(WalletPlatform)
    case levelChanged(LevelChange)
    case npsRated(score: Int64, comment: String?)
    case noteAdded(String)
    case custom(NamedEvent)
    case system(NamedEvent)
    case rulesChanged(Rules)
    case segmentDefined(SegmentDefinition)
    case segmentDeleted(String)
    case operationRefused(Refusal)

    /// The stable type code stored in the log.
    public var typeCode: UInt32 { kind.rawValue }

    public var kind: EventKind {
        switch self {
        case .bonusAccrued: .bonusAccrued
        case .bonusActivated: .bonusActivated
        case .bonusWrittenOff: .bonusWrittenOff
        case .bonusReserved: .bonusReserved
        case .bonusReserveReleased: .bonusReserveReleased
        case .bonusReserveCaptured: .bonusReserveCaptured
        case .bonusExpired: .bonusExpired
        case .bonusCancelled: .bonusCancelled
        case .mailingSent: .mailingSent
        case .mailingDelivered: .mailingDelivered
        case .mailingOpened: .mailingOpened
        case .mailingClicked: .mailingClicked
        case .mailingGoalReached: .mailingGoalReached
        case .mailingFailed: .mailingFailed
        case .messengerSubscribed: .messengerSubscribed
        case .messengerUnsubscribed: .messengerUnsubscribed
        case .purchaseMade: .purchaseMade
        case .purchaseReturned: .purchaseReturned
        case .orderPlaced: .orderPlaced
        case .orderClosed: .orderClosed
        case .orderCancelled: .orderCancelled
        case .segmentEntered: .segmentEntered
        case .segmentLeft: .segmentLeft
        case .segmentAssigned: .segmentAssigned
        case .segmentUnassigned: .segmentUnassigned
        case .clientRegistered: .clientRegistered
        case .profileChanged: .profileChanged
        case .cardAdded: .cardAdded
        case .cardRemoved: .cardRemoved
        case .clientBlocked: .clientBlocked
        case .clientUnblocked: .clientUnblocked
        case .clientDeleted: .clientDeleted
        case .walletInstalled: .walletInstalled
        case .walletRemoved: .walletRemoved
        case .levelChanged: .levelChanged
        case .npsRated: .npsRated
        case .noteAdded: .noteAdded
        case .custom: .custom
        case .system: .system
        case .rulesChanged: .rulesChanged
        case .segmentDefined: .segmentDefined
        case .segmentDeleted: .segmentDeleted
        case .operationRefused: .operationRefused
        }
    }
}

/// The event types with their stable codes and names (interface.md).
public enum EventKind: UInt32, Sendable, CaseIterable {
    case bonusAccrued = 1, bonusActivated = 2, bonusWrittenOff = 3, bonusReserved = 4, bonusReserveReleased = 5
    case bonusReserveCaptured = 6, bonusExpired = 7, bonusCancelled = 8
    case mailingSent = 20, mailingDelivered = 21, mailingOpened = 22, mailingClicked = 23, mailingGoalReached = 24
    case mailingFailed = 25, messengerSubscribed = 26, messengerUnsubscribed = 27
    case purchaseMade = 40, purchaseReturned = 41, orderPlaced = 42, orderClosed = 43, orderCancelled = 44
    case segmentEntered = 60, segmentLeft = 61, segmentAssigned = 62, segmentUnassigned = 63
    case clientRegistered = 80, profileChanged = 81, cardAdded = 82, cardRemoved = 83, clientBlocked = 84
    case clientUnblocked = 85, clientDeleted = 86, walletInstalled = 87, walletRemoved = 88, levelChanged = 89
    case npsRated = 90, noteAdded = 91, custom = 92, system = 93, rulesChanged = 94, segmentDefined = 95
    case segmentDeleted = 96, operationRefused = 97

    public var name: String {
        switch self {
        case .bonusAccrued: "bonus.accrued"
        case .bonusActivated: "bonus.activated"
        case .bonusWrittenOff: "bonus.written_off"
        case .bonusReserved: "bonus.reserved"
        case .bonusReserveReleased: "bonus.reserve_released"
        case .bonusReserveCaptured: "bonus.reserve_captured"
        case .bonusExpired: "bonus.expired"
        case .bonusCancelled: "bonus.cancelled"
        case .mailingSent: "mailing.sent"
        case .mailingDelivered: "mailing.delivered"
        case .mailingOpened: "mailing.opened"
        case .mailingClicked: "mailing.clicked"
        case .mailingGoalReached: "mailing.goal_reached"
        case .mailingFailed: "mailing.failed"
        case .messengerSubscribed: "messenger.subscribed"
        case .messengerUnsubscribed: "messenger.unsubscribed"
        case .purchaseMade: "purchase.made"
        case .purchaseReturned: "purchase.returned"
        case .orderPlaced: "order.placed"
        case .orderClosed: "order.closed"
        case .orderCancelled: "order.cancelled"
        case .segmentEntered: "segment.entered"
        case .segmentLeft: "segment.left"
        case .segmentAssigned: "segment.assigned"
        case .segmentUnassigned: "segment.unassigned"
        case .clientRegistered: "client.registered"
        case .profileChanged: "client.profile_changed"
        case .cardAdded: "client.card_added"
        case .cardRemoved: "client.card_removed"
        case .clientBlocked: "client.blocked"
        case .clientUnblocked: "client.unblocked"
        case .clientDeleted: "client.deleted"
        case .walletInstalled: "wallet.installed"
        case .walletRemoved: "wallet.removed"
        case .levelChanged: "level.changed"
        case .npsRated: "nps.rated"
        case .noteAdded: "note.added"
        case .custom: "custom"
        case .system: "system"
        case .rulesChanged: "rules.changed"
        case .segmentDefined: "segment.defined"
        case .segmentDeleted: "segment.deleted"
        case .operationRefused: "operation.refused"
        }
    }

    public static let byName: [String: EventKind] = Dictionary(uniqueKeysWithValues: allCases.map { ($0.name, $0) })

    /// Whether only the engine makes events of this type (a caller's command may not ask for
    /// one, through JSON or through the library).
    public var isDerivedOnly: Bool {
        switch self {
        case .bonusActivated, .bonusExpired, .bonusCancelled, .levelChanged, .segmentEntered, .segmentLeft, .operationRefused: true
        default: false
        }
    }

    /// The journal category (an `operation.refused` takes its operation's category instead).
    public var category: Category {
        switch rawValue {
        case 1..<20: .bonuses
        case 20..<40: .mailings
        case 40..<60: .purchases
        case 60..<80: .segments
        default: .other
        }
    }

    /// Whether the event concerns no client.
    public var isClientless: Bool { self == .system || self == .rulesChanged || self == .segmentDefined || self == .segmentDeleted }
}

/// An event as it stands in the log.
public struct EventRecord: Sendable, Equatable {
    public var position: UInt64
    public var at: Micros
    /// Empty for events of no client.
    public var client: String
    public var idempotencyKey: String?
    /// True for events the engine derived from the event before it (in the same command).
    public var derived: Bool
    public var event: DomainEvent
    /// The client's number: its index in registration order (0, 1, 2, …), which the body
    /// carries so that a rebuild finds the client without hashing its id. Nil for events of
    /// no client and for records not yet applied.
    public var clientNumber: Int32?

    public init(position: UInt64 = 0, at: Micros, client: String, idempotencyKey: String? = nil, derived: Bool = false,
                event: DomainEvent, clientNumber: Int32? = nil) {
        self.position = position
        self.at = at
        self.client = client
        self.idempotencyKey = idempotencyKey
        self.derived = derived
        self.event = event
        self.clientNumber = clientNumber
    }

    /// The journal category: a refusal belongs to the category of what it refused.
    public var category: Category {
        if case .operationRefused(let r) = event, let kind = EventKind.byName[r.operation] { return kind.category }
        return event.kind.category
    }
}

// Initializers for the commands a library caller builds (the fuzzer's edge-value mode builds
// them so, with no parser between it and the engine, which checks every amount and time itself).
extension Accrual {
    public init(amount: Int64, reason: AccrualReason, activatesAt: Micros = 0, expiresAt: Micros = 0, source: String? = nil,
                comment: String? = nil, operatorName: String? = nil, customExpiry: Bool = false) {
        self.amount = amount; self.reason = reason; self.activatesAt = activatesAt; self.expiresAt = expiresAt
        self.source = source; self.comment = comment; self.operatorName = operatorName; self.customExpiry = customExpiry
    }
}

extension WriteOff {
    public init(amount: Int64, reason: WriteOffReason, purchase: String? = nil, comment: String? = nil, operatorName: String? = nil) {
        self.init(amount: amount, reason: reason, purchase: purchase, comment: comment, operatorName: operatorName, lots: [])
    }
}

extension Reservation {
    public init(order: String, amount: Int64) { self.init(order: order, amount: amount, lots: []) }
}







