/// What happens when a return takes back more bonuses than the client still has.
public enum ReturnPolicy: String, Sendable, CaseIterable {
    /// Take back only bonuses still pending; the rest is forgiven.
    case onlyPending
    /// Take back what is there, never below zero; the rest is forgiven.
    case withinBalance
    /// Take back everything: what is missing becomes a debt that later bonuses pay off first.
    case unlimited
}

/// A level and what reaches it.
public struct LevelRule: Sendable, Equatable {
    public var name: String
    /// The purchase sum (kopecks) or purchase count over the window that reaches this level.
    public var threshold: Int64
    /// Accrual percent for this level, in hundredths of a percent (500 = 5 %); nil: the
    /// rules' `accrualPercent`.
    public var percentBasisPoints: Int64?
    public init(name: String, threshold: Int64, percentBasisPoints: Int64?) {
        self.name = name; self.threshold = threshold; self.percentBasisPoints = percentBasisPoints
    }
}

/// The program's configuration. Versioned: each `rules.changed` event sets some fields and
/// raises the version; rules only drive what the engine computes, never rewrite facts.
///
/// Defaults (a new ledger's rules until a `rules.changed` says otherwise): 5 % of the paid
/// amount, 14 pending days, 365 days of life counted from activation, return policy
/// `unlimited`, no birthday or welcome bonus, and levels by purchase sum over 365 days:
/// Base from 0 (at `accrualPercent`), Silver from 30 000,00 ₽ (7 %), Gold from 100 000,00 ₽ (10 %).
public struct Rules: Sendable, Equatable {
    public var version: Int64 = 0
    /// Accrual percent for clients below every level threshold, in hundredths of a percent.
    public var accrualBasisPoints: Int64 = 500
    public var pendingDays: Int64 = 14
    public var lifetimeDays: Int64 = 365
    public var returnPolicy: ReturnPolicy = .unlimited
    /// Bonus units accrued on a client's birthday by the advance step (0 = none).
    public var birthdayBonus: Int64 = 0
    /// Bonus units accrued when a client registers as a participant (0 = none).
    public var welcomeBonus: Int64 = 0
    /// Levels by ascending threshold.
    public var levels: [LevelRule] = [
        LevelRule(name: "Base", threshold: 0, percentBasisPoints: nil),
        LevelRule(name: "Silver", threshold: 3_000_000, percentBasisPoints: 700),
        LevelRule(name: "Gold", threshold: 10_000_000, percentBasisPoints: 1000),
    ]
    /// Whether levels count the purchase sum (`sum`) or the number of purchases (`count`).
    public var levelBasisIsCount: Bool = false
    /// The window of purchases levels look at, in days (0 = all time).
    public var levelWindowDays: Int64 = 365
    /// The lifetime stages' thresholds (see ``LifetimeThresholds``): a client is new for this
    /// many days in the program, then active while its last purchase is at most `activeDays`
    /// old, sleeping up to `lostDays`, lost after.
    public var newClientDays: Int64 = 30
    public var activeDays: Int64 = 90
    public var lostDays: Int64 = 180
    /// The same, as the lifetime stages take them.
    public var lifetimeThresholds: LifetimeThresholds { LifetimeThresholds(newDays: newClientDays, activeDays: activeDays, lostDays: lostDays) }

    public init() {}

    /// The level a client reaches with this sum (or count) of purchases.
    public func level(forAmount amount: Int64) -> LevelRule? {
        levels.last { amount >= $0.threshold }
    }

    /// The accrual rate of a level name (or the base rate).
    /// The most days a rule may give (pending, lifetime, level window): a hundred years.
    public static let daysMax: Int64 = 36_500

    public func basisPoints(level: String?) -> Int64 {
        guard let level, let rule = levels.first(where: { $0.name == level }) else { return accrualBasisPoints }
        return rule.percentBasisPoints ?? accrualBasisPoints
    }
}
