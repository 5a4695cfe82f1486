import Ledger
import LedgerDomain

/// The demo's support scenarios (the journal page of the source documents): each a real case
/// found in the generated program, answered as support would, with the journal and the audit
/// replay. A case the program does not hold is said to be absent, never made up.
struct SupportDemo {
    let view: LedgerView
    let data: String

    func run() throws {
        print("\nSupport scenarios, answered from the journal and the audit replay:")
        try bonusesDidNotArrive()
        try walletWithoutBonus()
        try noBirthdayBonus()
        try birthdayBonusTwice()
    }

    /// A page of the journal for one client, as the command shows it.
    func journal(_ client: ClientID, _ categories: Set<Category> = [], types: Set<String> = [], limit: Int = 5,
                 from: Timestamp? = nil, to: Timestamp? = nil) throws -> String {
        var query = JournalQuery()
        query.client = client
        query.categories = categories
        query.types = types
        query.limit = limit
        query.from = from
        query.to = to
        return JournalVerb.table(try view.journal(query), language: .russian)
    }

    /// The replay notes of one client's steps of the given types (those that say `saying`).
    func notes(_ client: ClientID, types: Set<String>, saying: String = "") throws -> [String] {
        guard let replay = try view.replay(client: client) else { return [] }
        return replay.steps.filter { types.contains($0.type) && !$0.notes.isEmpty && (saying.isEmpty || $0.notes.contains { $0.contains(saying) }) }
            .map { "  #\($0.position) \(Time.russianDate($0.at.microsecondsSince1970)): \($0.notes.joined(separator: "; "))" }
    }

    /// How support finds the client: by phone, else by its id.
    func phone(_ client: ClientID) -> String {
        view.client(id: client.rawValue)?.phone.map { "the phone " + Phone.display($0) } ?? "the client id \(client.rawValue)"
    }

    /// "The bonuses did not arrive": a client whose newest purchase's bonuses are still pending.
    func bonusesDidNotArrive() throws {
        var query = JournalQuery()
        query.types = ["bonus.accrued"]
        query.limit = 200
        let horizon = view.stats().lastEventAt?.microsecondsSince1970 ?? 0
        let row = try view.journal(query).rows.first { row in
            guard case .string(let active)? = row.details["activatesAt"], let t = Time.parse(active) else { return false }
            return t > horizon && row.details["reason"] == .string("purchase")
        }
        print("\n1. «Бонусы не пришли» — the bonuses did not arrive.")
        guard let row, let client = row.client else { return print("   No client of this program has bonuses still pending.") }
        print("   Support types \(phone(client)) and picks Bonuses + Purchases:\n")
        print(indent(try journal(client, [.bonuses, .purchases])))
        print("   The replay says why:")
        print(try notes(client, types: ["bonus.accrued"]).suffix(1).joined(separator: "\n"))
    }

    /// "Installed the Wallet card but got no bonus".
    func walletWithoutBonus() throws {
        var query = JournalQuery()
        query.types = ["wallet.installed"]
        query.limit = 1
        print("\n2. «Установил карту Wallet, а бонус не пришёл» — installed the Wallet card, no bonus.")
        guard let row = try view.journal(query).rows.first, let client = row.client else { return print("   No Wallet install in this program.") }
        print("   Support types \(phone(client)) and picks Other → wallet.installed:\n")
        print(indent(try journal(client, types: ["wallet.installed"], limit: 3)))
        print("   The replay says why:")
        print(try notes(client, types: ["wallet.installed"]).suffix(1).joined(separator: "\n"))
    }

    /// "No birthday bonus": a birthday bonus the advance step refused and journaled.
    func noBirthdayBonus() throws {
        var query = JournalQuery()
        query.types = ["operation.refused"]
        query.limit = 500
        print("\n3. «Не пришёл бонус ко дню рождения» — no birthday bonus.")
        let row = try view.journal(query).rows.first { row in
            if case .string(let source)? = row.details["source"] { return source.hasPrefix("birthday") } else { return false }
        }
        guard let row, let client = row.client else { return print("   No birthday bonus was refused in this program.") }
        print("   Support types \(phone(client)) and picks Bonuses + Mailings:\n")
        print(indent(try journal(client, [.bonuses, .mailings])))
        print("   The replay says why:")
        print(try notes(client, types: ["operation.refused"]).suffix(1).joined(separator: "\n"))
    }

    /// "The birthday bonus came twice": two birthday accruals of one client in one year.
    func birthdayBonusTwice() throws {
        var query = JournalQuery()
        query.types = ["bonus.accrued"]
        query.limit = JournalQuery.limitMax
        query.order = .oldestFirst
        var seen: [String: Timestamp] = [:]
        var twice: (client: ClientID, first: Timestamp, second: Timestamp)? = nil
        var page = try view.journal(query)
        while twice == nil {
            for row in page.rows where row.details["reason"] == .string("birthday") {
                let key = (row.client?.rawValue ?? "") + "/" + String(row.at.description.prefix(4))
                if let first = seen[key], let client = row.client { twice = (client, first, row.at); break }
                seen[key] = row.at
            }
            guard twice == nil, page.next != nil else { break }
            page = try view.journal(query.after(page))
        }
        print("\n4. «Бонус ко дню рождения пришёл дважды» — the birthday bonus came twice.")
        guard let (client, first, second) = twice else {
            return print("   No client of this program got two birthday bonuses in one year: the advance step marks each client's year once its bonus is decided (given or refused), so a second one is a bug this demo would show here.")
        }
        print("   Support types \(phone(client)), picks Bonuses and the days around the birthday:\n")
        print(indent(try journal(client, [.bonuses], from: first - .seconds(3600), to: second + .seconds(3600))))
        print("   The replay says:")
        print(try notes(client, types: ["bonus.accrued"], saying: "дубль").joined(separator: "\n"))
    }

    func indent(_ text: String) -> String { text.split(separator: "\n", omittingEmptySubsequences: false).map { "   " + $0 }.joined(separator: "\n") }
}
