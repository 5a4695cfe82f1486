import ArgumentParser
import Ledger
import LedgerDomain

struct Client: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a client card, by id, phone (any format) or card number.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "The client id.")
    var id: String?

    @Option(name: .long, help: "Find the client by phone, in any format.")
    var phone: String?

    @Option(name: .long, help: "Find the client by card number.")
    var card: String?

    @Option(name: .customLong("as-of"), help: "The card as it was at this time (a date: its end), after every event up to it.")
    var asOf: String?

    @Option(name: .customLong("at-position"), help: "The card as it was before the event at this position.")
    var atPosition: UInt64?

    @Flag(name: .long, help: "Show every receipt and open lot (the card shows the newest 10 receipts and the first 12 lots, and says how many more there are).")
    var all = false

    func validate() throws {
        guard [id, phone, card].compactMap({ $0 }).count == 1 else { throw ValidationError("name the client by exactly one of: ID, --phone, --card") }
        guard asOf == nil || atPosition == nil else { throw ValidationError("give --as-of or --at-position, not both") }
        _ = try when()
    }

    /// The point in the past asked for, if any.
    func when() throws -> AsOf? {
        if let atPosition { return .position(atPosition) }
        guard let asOf else { return nil }
        return .time(try JournalVerb.time(asOf, "--as-of", endOfDay: true))
    }

    func run() throws {
        let view = try openView(common, verb: "client", asOf: try when())
        let found: ClientCard? = id.map { view.client(id: $0) } ?? phone.map { view.client(phone: $0) } ?? card.map { view.client(card: $0) } ?? nil
        guard let card = found else {
            var what = id.map { "client '\($0)'" } ?? phone.map { "a client with phone \($0)" } ?? "a client with card \(card ?? "")"
            if let asOf { what += " as of \(asOf)" } else if let atPosition { what += " before position \(atPosition)" }
            if common.json {
                print(JSON.object([("ok", .bool(false)), ("error", .string(ErrorCode.unknownClient.rawValue)), ("message", .string("there is no \(what)"))]).rendered)
            }
            printError("ledger client: there is no \(what)")
            throw ExitCode(ExitStatus.refused)
        }
        print(common.json ? card.contractJSON.text : Self.table(card, all: all))
    }

    /// How many receipts and lots the human card shows unless `--all` is given.
    static let receiptsShown = 10
    static let lotsShown = 12

    /// The card for a person. Every text that came from input goes through ``Printable``, so
    /// that a name or comment holding control characters cannot act on the terminal.
    static func table(_ c: ClientCard, all: Bool = false) -> String {
        func t(_ text: String) -> String { Printable.escaped(text) }
        let b = c.balances, s = c.stats
        var out = "\(t(c.displayName))  (\(t(c.id.rawValue)))\(c.deleted ? "  — deleted" : "")\n"
        out += "  status \(c.status.rawValue)   level \(c.level.map(t) ?? "—")\(c.levelManual ? " (set by hand)" : "")   registered \(Time.russianDate(c.registeredAt.microsecondsSince1970))\n"
        out += "  phone \(c.phone.map(Phone.display) ?? "—")   cards \(c.cards.isEmpty ? "—" : c.cards.map(t).joined(separator: ", "))   email \(c.email.map(t) ?? "—")\n"
        if !c.wallet.isEmpty { out += "  Wallet card: \(c.wallet.map(\.rawValue).joined(separator: ", "))\n" }
        if !c.segments.isEmpty { out += "  segments: \(c.segments.map(t).joined(separator: ", "))\n" }
        out += "\nBonuses\n"
        var balances = Table(header: ["on account", "pending", "reserved", "used", "expired", "accrued", "cancelled"])
        balances.rows.append([b.available, b.pending, b.reserved, b.used, b.expired, b.accrued, b.cancelled].map { Money.format($0.minorUnits) })
        out += balances.rendered + "\n"
        if b.debt > .zero { out += "  debt (paid first from new bonuses): \(b.debt.formatted())\n" }
        if let next = c.nextExpiry { out += "  next expiry: \(next.amount.formatted()) on \(Time.russianDate(next.at.microsecondsSince1970))\n" }
        out += "\nPurchases: \(s.purchaseCount) for \(s.purchaseSum.formatted()) ₽, average \(s.averageCheck.formatted()), max \(s.maxCheck.formatted()); returns: \(s.returnCount) for \(s.returnSum.formatted()) ₽\n"
        if !c.receipts.isEmpty {
            let shown = all ? c.receipts[...] : c.receipts.suffix(receiptsShown)
            var receipts = Table(header: ["date", "receipt", "paid ₽", "bonuses spent", "bonuses accrued", "returned ₽"])
            for r in shown {
                receipts.rows.append([Time.russianDate(r.at.microsecondsSince1970), t(r.purchase), r.paid.formatted(), r.bonusesSpent.formatted(), r.bonusesAccrued.formatted(), r.returned.formatted()])
            }
            if shown.count < c.receipts.count { out += "the newest \(shown.count) of \(c.receipts.count) receipts (\(c.receipts.count - shown.count) earlier ones: --all shows them)\n" }
            out += receipts.rendered + "\n"
        }
        if !c.openLots.isEmpty {
            let shown = all ? c.openLots[...] : c.openLots.prefix(lotsShown)
            out += "\nWhat the balance is made of (open lots, by expiry)\n"
            var lots = Table(header: ["accrual", "reason", "amount", "left", "reserved", "state", "active from", "expires"])
            for lot in shown {
                lots.rows.append(["#\(lot.accrual)", lot.reason.rawValue, lot.amount.formatted(), lot.remaining.formatted(), lot.reserved.formatted(),
                                  lot.state.rawValue, Time.russianDate(lot.activatesAt.microsecondsSince1970), Time.russianDate(lot.expiresAt.microsecondsSince1970)])
            }
            out += lots.rendered + "\n"
            if shown.count < c.openLots.count {
                let rest = c.openLots[shown.count...]
                out += "  … and \(rest.count) more open lots (\(rest.reduce(Bonus.zero) { $0 + $1.remaining }.formatted()) left in them): --all shows them\n"
            }
        }
        if !c.messengers.isEmpty {
            out += "\nChannels: " + c.messengers.map { "\($0.channel.rawValue) \($0.subscribed ? "subscribed" : "not subscribed"), \($0.received) received" }.joined(separator: "; ") + "\n"
        }
        if let last = c.nps.last { out += "NPS: \(last.score) on \(Time.russianDate(last.at.microsecondsSince1970))\(last.comment.map { " — \(t($0))" } ?? "")\n" }
        if let note = c.notes.last { out += "Last note (\(Time.russianDate(note.at.microsecondsSince1970))): \(t(note.text))\n" }
        out += "\(c.eventCount) events in the journal"
        return out
    }
}
