/// RFM and lifetime segments (seeds 004): computed from every client's purchases as of a day,
/// not kept up to date event by event (an RFM score is a rank among all clients, so one
/// purchase moves other clients' scores).
///
/// **RFM.** Each client with a purchase, not deleted, gets three scores 1–5 by quintile:
/// recency (days since the last purchase: the most recent fifth scores 5), frequency (the
/// purchase count) and monetary value (the purchase sum); the higher fifth scores 5. A score is
/// `1 + ⌊5 · (clients strictly worse) / (clients scored)⌋`, so equal values share a score. The
/// named segments, first match wins (this precedence settles where ranges overlap):
///
/// | segment | recency | frequency | monetary |
/// |---|---|---|---|
/// | Champions | 4–5 | 4–5 | 4–5 |
/// | Can't lose them | 1 | 4–5 | any |
/// | At risk | 1–2 | 3–5 | any |
/// | Loyal | 3–5 | 4–5 | any |
/// | New customers | 5 | 1 | any |
/// | Potential loyalists | 4–5 | 2–3 | any |
/// | Hibernating | 1–2 | 1–2 | any |
/// | Need attention | everything else | | |
///
/// **Lifetime.** Every client not deleted, as of a day: *new* while its days in the program are
/// at most `newDays`; else *active* while the days since its last purchase are at most
/// `activeDays`; else *sleeping* while they are at most `lostDays`; else *lost*. A client without
/// a purchase counts its days from registration. The thresholds are rules (`newClientDays`,
/// `activeDays`, `lostDays` of `rules.changed`; 30, 90, 180 until changed).
public enum RFMSegment: String, CaseIterable, Sendable {
    case champions = "Champions", cantLose = "Can't lose them", atRisk = "At risk", loyal = "Loyal",
         newCustomers = "New customers", potentialLoyalists = "Potential loyalists", hibernating = "Hibernating",
         needAttention = "Need attention"

    /// The segment of three scores, by the precedence above.
    public static func of(recency r: Int, frequency f: Int, monetary m: Int) -> RFMSegment {
        if r >= 4 && f >= 4 && m >= 4 { return .champions }
        if r == 1 && f >= 4 { return .cantLose }
        if r <= 2 && f >= 3 { return .atRisk }
        if r >= 3 && f >= 4 { return .loyal }
        if r == 5 && f == 1 { return .newCustomers }
        if r >= 4 && (2...3).contains(f) { return .potentialLoyalists }
        if r <= 2 && f <= 2 { return .hibernating }
        return .needAttention
    }
}

public enum LifetimeStage: String, CaseIterable, Sendable {
    case new, active, sleeping, lost
}

/// The thresholds of the lifetime stages, in days.
public struct LifetimeThresholds: Sendable, Equatable {
    public var newDays: Int64
    public var activeDays: Int64
    public var lostDays: Int64
    public init(newDays: Int64 = 30, activeDays: Int64 = 90, lostDays: Int64 = 180) {
        self.newDays = newDays; self.activeDays = activeDays; self.lostDays = lostDays
    }
}

/// Every client's RFM scores and segment and lifetime stage, as of a day.
public struct RFMAnalysis: Sendable {
    public struct Scored: Sendable, Equatable {
        public var client: Int32
        public var recency: Int, frequency: Int, monetary: Int
        public var segment: RFMSegment
    }
    /// The day it stands at (days since 1970).
    public var day: Int64
    /// The clients with a purchase, by client number.
    public var scored: [Scored]
    /// Every client not deleted, by client number, and its stage.
    public var stages: [(client: Int32, stage: LifetimeStage)]
    public var thresholds: LifetimeThresholds

    public func count(_ segment: RFMSegment) -> Int { scored.lazy.filter { $0.segment == segment }.count }
    public func count(_ stage: LifetimeStage) -> Int { stages.lazy.filter { $0.stage == stage }.count }
}

extension LedgerState {
    /// The RFM scores and lifetime stages of every client as of `asOf` (the stages by the
    /// rules' thresholds unless `thresholds` are given).
    public func rfm(asOf: Micros, thresholds given: LifetimeThresholds? = nil) -> RFMAnalysis {
        let thresholds = given ?? rules.lifetimeThresholds
        let today = Time.day(of: asOf)
        var clients: [Int32] = [], recency: [Int64] = [], frequency: [Int64] = [], monetary: [Int64] = []
        var stages: [(client: Int32, stage: LifetimeStage)] = []
        for i in 0..<records.count where !records[i].deleted {
            let r = records[i]
            let sinceRegistration = today - Time.day(of: r.registeredAt)
            let last = r.stats.lastPurchaseAt.map { today - Time.day(of: $0) }
            let idle = last ?? sinceRegistration
            let stage: LifetimeStage = sinceRegistration <= thresholds.newDays ? .new
                : idle <= thresholds.activeDays ? .active : idle <= thresholds.lostDays ? .sleeping : .lost
            stages.append((Int32(i), stage))
            guard let last, r.stats.purchaseCount > 0 else { continue }
            clients.append(Int32(i)); recency.append(last); frequency.append(r.stats.purchaseCount); monetary.append(r.stats.purchaseSum)
        }
        /// For each value, 1 + ⌊5 · (values strictly below it) / n⌋ (`higherIsBetter`), or
        /// strictly above it (recency: fewer days is better).
        func scores(_ values: [Int64], higherIsBetter: Bool) -> [Int] {
            let sorted = values.sorted()
            let n = values.count
            return values.map { v in
                let worse = higherIsBetter ? lowerBound(sorted, v) : n - upperBound(sorted, v)
                return 1 + min(4, worse * 5 / n)
            }
        }
        let (rs, fs, ms) = (scores(recency, higherIsBetter: false), scores(frequency, higherIsBetter: true), scores(monetary, higherIsBetter: true))
        let scored = clients.indices.map { k in
            RFMAnalysis.Scored(client: clients[k], recency: rs[k], frequency: fs[k], monetary: ms[k],
                               segment: .of(recency: rs[k], frequency: fs[k], monetary: ms[k]))
        }
        return RFMAnalysis(day: today, scored: scored, stages: stages, thresholds: thresholds)
    }
}

/// The first index whose value is not below `v` / is above `v`, in ascending `sorted`.
private func lowerBound(_ sorted: [Int64], _ v: Int64) -> Int {
    var (lo, hi) = (0, sorted.count)
    while lo < hi { let mid = (lo + hi) / 2; if sorted[mid] < v { lo = mid + 1 } else { hi = mid } }
    return lo
}

private func upperBound(_ sorted: [Int64], _ v: Int64) -> Int {
    var (lo, hi) = (0, sorted.count)
    while lo < hi { let mid = (lo + hi) / 2; if sorted[mid] <= v { lo = mid + 1 } else { hi = mid } }
    return lo
}
