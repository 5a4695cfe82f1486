import LedgerStorage

/// A filter on one of ``RecordColumns`` applied to a whole candidate list as a scan of its
/// column: one comparison a client, no call through the matcher, the comparison's operator
/// decided once. The same answers as ``FilterMatcher`` (the property test compares the
/// evaluation with a brute-force reading of the log).
extension SegmentEvaluator {
    /// A numeric comparison decided once: a range (`gte`, `lte`, `between`, one `eq`), or any of
    /// a list (`in`).
    struct NumberTest {
        var low = Int64.min, high = Int64.max
        var list: [Int64]? = nil

        init(_ c: Compiled) {
            switch c.op {
            case .gte: low = c.bounds.first ?? .max
            case .lte: high = c.bounds.first ?? .min; if c.bounds.isEmpty { low = .max }
            case .between:
                if c.bounds.count == 2 { (low, high) = (c.bounds[0], c.bounds[1]) } else { (low, high) = (.max, .min) }
            case .eq, .in, .contains:
                if c.bounds.count == 1 { (low, high) = (c.bounds[0], c.bounds[0]) } else { list = c.bounds }
            }
        }

        @inline(__always)
        func callAsFunction(_ v: Int64) -> Bool {
            if let list { return list.contains(v) }
            return v >= low && v <= high
        }
    }

    /// Keeps the candidates for which `test` is `keep`, in place.
    @inline(__always)
    func retain(_ candidates: inout [Int32], _ keep: Bool, _ test: (Int) -> Bool) {
        var kept = 0
        for k in 0..<candidates.count {
            let i = candidates[k]
            if test(Int(i)) == keep {
                candidates[kept] = i
                kept += 1
            }
        }
        candidates.removeLast(candidates.count - kept)
    }

    /// Narrows `candidates` by `c` with a scan of its column, if it reads one of
    /// ``RecordColumns`` (true), or leaves them for the matcher (false).
    func scanColumn(_ c: Compiled, _ candidates: inout [Int32]) -> Bool {
        let columns = state.columns
        let keep = !c.exclude
        let t = NumberTest(c)
        let today = self.today
        switch c.field {
        case .purchaseSum where c.narrowing.isEmpty:
            let column = columns.purchaseSums
            retain(&candidates, keep) { t(column[$0]) }
        case .purchaseCount where c.narrowing.isEmpty:
            let column = columns.purchaseCounts
            retain(&candidates, keep) { t(Int64(column[$0])) }
        case .bonusesAvailable:
            let column = columns.available
            retain(&candidates, keep) { t(column[$0]) }
        case .joinDate:
            let column = columns.registeredDays
            retain(&candidates, keep) { t(Int64(column[$0])) }
        case .daysInProgram:
            let column = columns.registeredDays
            retain(&candidates, keep) { t(today - Int64(column[$0])) }
        case .lastPurchaseDate:
            let column = columns.lastPurchaseDays
            retain(&candidates, keep) { column[$0] != RecordColumns.noDay && t(Int64(column[$0])) }
        case .daysWithoutPurchases:
            let (last, registered) = (columns.lastPurchaseDays, columns.registeredDays)
            retain(&candidates, keep) { i in
                let day = last[i]
                return t(today - Int64(day != RecordColumns.noDay ? day : registered[i]))
            }
        case .gender, .status:
            // One bit a code: the gender codes (bits 0–1 of the traits) or the status codes (bits 2–3).
            let codes = c.field == .gender ? c.genderCodes : c.statusCodes
            let shift: UInt8 = c.field == .gender ? 0 : 2
            var mask: UInt8 = 0
            for code in codes where code < 4 { mask |= 1 << code }
            let column = columns.traits
            retain(&candidates, keep) { mask & (1 << (column[$0] >> shift & 3)) != 0 }
        default:
            return false
        }
        return true
    }
}
