/// Arithmetic on amounts that input can drive, done where it cannot overflow.
///
/// Every amount a command carries is bounded (``AmountLimits``), and so is every sum the ledger
/// keeps, but a product of two bounded amounts is not: a return's share of a purchase's bonuses
/// is `accrued × returned ÷ paid`, and 10¹⁰ × 10¹⁰ is past Int64. Such products are taken in
/// 128 bits and divided there; the quotient is exact (rounded toward zero) and fits because
/// `returned ≤ paid`.
enum Arithmetic {
    /// `a × b ÷ c`, rounded toward zero, computed in 128 bits. `c` must be positive. The
    /// quotient fits whenever `|b| ≤ c` (a share); past Int64 it saturates rather than trap.
    static func share(_ a: Int64, times b: Int64, over c: Int64) -> Int64 {
        precondition(c > 0, "a share of a total needs a positive total")
        let negative = (a < 0) != (b < 0)
        let product = a.magnitude.multipliedFullWidth(by: b.magnitude)
        guard product.high < c.magnitude else { return negative ? .min : .max }
        let (quotient, _) = c.magnitude.dividingFullWidth(product)
        guard quotient <= UInt64(Int64.max) else { return negative ? .min : .max }
        return negative ? -Int64(quotient) : Int64(quotient)
    }

    /// `a + b`, or nil past Int64.
    static func sum(_ a: Int64, _ b: Int64) -> Int64? {
        let (value, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : value
    }
}
