import Ledger
import LedgerDomain

/// The demo's marketing part (issue 24): a few of the seeds' example segments, defined on the
/// generated program so that their first members are recorded; their sizes and a transition
/// the journal explains; the client list exported; and a what-if rebuild under a shorter bonus
/// lifetime: how many clients would lose how many bonuses, and when.
struct MarketingDemo {
    let data: String

    /// The seeds' examples (the back office's client list page, seeds 001).
    static let segments: [(name: String, filters: String, meaning: String)] = [
        ("Постоянные", #"[{"field":"purchaseCount","op":"gte","values":[5]},{"field":"purchaseSum","op":"gte","values":[1000000]}]"#,
         "5 purchases or more and 10 000 ₽ or more"),
        ("Покупки в январе 2025", #"[{"field":"purchaseDate","op":"between","values":["2025-01-01","2025-01-31"]}]"#,
         "bought between 1 and 31 January 2025, both included"),
        ("Спящие", #"[{"field":"daysWithoutPurchases","op":"gte","values":[60]},{"field":"status","op":"in","values":["participant"]}]"#,
         "participants without a purchase for 60 days or more"),
        ("Новички", #"[{"field":"daysInProgram","op":"between","values":[0,30]}]"#,
         "joined in the last 30 days (0 is today)"),
    ]

    /// The definitions, as the demo records them on its ledger before it closes it.
    static func definitions(at: Micros) -> [Command] {
        segments.map { Command(at: at, client: "", event: .segmentDefined(SegmentDefinition(name: $0.name, filters: $0.filters))) }
    }

    func run() throws {
        let view = try LedgerView(directory: data)
        print("\nMarketing: the seeds' example segments, defined on the program (each definition records its first members):")
        for s in Self.segments {
            let count = view.state.members(ofSegment: s.name)?.count ?? 0
            print("  «\(s.name)» (\(s.meaning)): \(grouped(count)) clients")
        }
        // A transition the journal explains.
        var query = JournalQuery()
        query.types = ["segment.entered"]
        query.limit = 1
        query.language = .russian
        if let row = try view.journal(query).rows.first, let client = row.client {
            print("  the journal of \(client.rawValue): \(row.at) — \(Printable.escaped(row.description))")
        }
        var rules = RulesPatch()
        rules.lifetimeDays = 90
        print("\nWhat if bonuses lived 90 days instead of 180? A rebuild decides the whole log again under that rule, on two cores, beside the ledger:")
        let report = try Rebuild.run(view, directory: data, options: Rebuild.Options(rules: rules, workers: 2))
        print("  \(grouped(Int(report.events))) events decided again in \(format2(report.seconds)) s (\(grouped(Int(report.eventsPerSecond))) events/s)")
        print("  \(grouped(report.clientsLosingMore)) clients would lose more bonuses to expiry: \(Money.format(report.expiredBefore)) → \(Money.format(report.expiredAfter)) bonuses burned among the clients whose balances change")
        for m in report.burnsByMonth.prefix(6) { print("    \(m.month): \(Money.format(m.before)) → \(Money.format(m.after)) would burn") }
        if !report.refused.isEmpty { print("  \(grouped(report.refused.count)) write-offs or payments with bonuses the ledger accepted would have been refused") }
        print("  (nothing was recorded: `ledger rebuild --rules FILE --apply` records the rules and the transitions)")
        print("\nExport the list: `ledger --data \(data) export --format xlsx --segment Постоянные --out clients.xlsx`.")
    }
}
