/// A purchase as ``LedgerState/purchaseState(_:)`` gives it. What returns change lives in
/// ``ReturnTotals``, kept only for purchases that had a return; the bonuses a receipt spent, in
/// ``LedgerState/bonusesSpent(of:)``, kept only for receipts that spent some.
public struct PurchaseState: Sendable, Equatable {
    public var client: Int32
    /// The client's next purchase (-1: none yet).
    public var next: Int32
    public var at: Micros
    public var paid: Int64
    /// The bonuses the purchase earned (its lot's amount).
    public var accrued: Int64
    /// The purchase's own accrual (its lot), if it earned one.
    public var lot: UInt64?
}

/// A purchase as the ledger stores it: 32 bytes, for there are millions. What was paid and
/// what it earned are kept in 32 bits (up to 42 949 672,95); a purchase with more is *wide*:
/// both are kept beside it, in full (``LedgerState/widePurchases``).
struct StoredPurchase: Sendable {
    var client: Int32
    var next: Int32 = -1
    var at: Micros
    /// The position of the purchase's accrual (below 2⁴⁸; all ones: none), and bit 63: wide.
    var word: UInt64 = StoredPurchase.noLot
    var paid: UInt32 = 0
    var accrued: UInt32 = 0

    static let noLot: UInt64 = (1 << 48) - 1
    static let wideBit: UInt64 = 1 << 63

    var isWide: Bool { word & Self.wideBit != 0 }
    var lot: UInt64? { word & Self.noLot == Self.noLot ? nil : word & Self.noLot }
}

/// What the returns of one purchase have done so far.
public struct ReturnTotals: Sendable, Equatable {
    /// Money given back, kopecks.
    public var returnedPaid: Int64 = 0
    /// Bonuses intended to be taken back so far (taken + debt + forgiven).
    public var clawedBack: Int64 = 0
    /// Spent bonuses given back so far.
    public var refunded: Int64 = 0
    public init() {}
}

/// A return as its id names it: the purchase (its index in the state) and the return id.
public struct ReturnKey: Hashable, Sendable {
    public var purchase: Int32
    public var returnID: String
    public init(_ purchase: Int32, _ returnID: String) { self.purchase = purchase; self.returnID = returnID }
}

public struct OrderState: Sendable {
    public enum Phase: UInt8, Sendable { case open, closed, cancelled }
    public var client: Int32
    public var phase: Phase = .open
    public var reserved: Int64 = 0
    /// What each lot holds for this order.
    public var lots: [LotTake] = []
}

/// What an idempotency key answers: the positions of the original command's events, or the
/// refusal recorded for it.
public enum IdempotentAnswer: Sendable, Equatable, Codable {
    case accepted(ClosedRange<UInt64>)
    case refused(code: String, message: String)
}
