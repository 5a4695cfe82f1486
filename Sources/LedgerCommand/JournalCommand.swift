import ArgumentParser
import Ledger
import LedgerDomain

/// `ledger journal`: the event journal with interface.md's filters, a table for people and
/// `--json` for programs.
struct JournalVerb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "journal",
        abstract: "The event journal: every event, newest first, with filters that combine (AND).",
        discussion: """
        Examples: `ledger journal --phone "8 916 123-45-67" --category bonuses --category purchases` \
        ("the bonuses did not arrive"); `ledger journal --type wallet.installed --from 2025-03-01 --to 2025-03-31`; \
        `ledger journal --name call_center --context operator=Азбука`. A bare date is its whole day \
        (`--to 2025-03-31` takes in that day). Pages: `--limit N` rows (50 by default), then `--cursor` \
        with the `next` the page ended with; paging never repeats or skips a row while events are appended.
        """)

    @OptionGroup var common: CommonOptions
    @Option(name: .long, help: "A client by phone, in any format.") var phone: String?
    @Option(name: .long, help: "A client by id.") var client: String?
    @Option(name: .long, help: "The members of a segment, as of now.") var segment: String?
    @Option(name: .long, help: "bonuses, mailings, purchases, segments, other or all (repeatable).") var category: [String] = []
    @Option(name: .long, help: "An event type, such as bonus.accrued (repeatable).") var type: [String] = []
    @Option(name: .long, help: "The name of a custom or system event.") var name: String?
    @Option(name: .long, help: "A context variable's value, k=v (repeatable; all must match).") var context: [String] = []
    @Option(name: .long, help: "From this time or date (inclusive).") var from: String?
    @Option(name: .long, help: "To this time or date (inclusive; a date is its whole day).") var to: String?
    @Option(name: .long, help: "desc (newest first, the default) or asc.") var order: String = "desc"
    @Option(name: .long, help: "Rows a page (1 to 10000).") var limit: Int = 50
    @Option(name: .long, help: "The `next` cursor of the page before.") var cursor: String?
    @Option(name: .long, help: "ru (the default: support works in Russian) or en.") var lang: String = "ru"

    func query() throws -> JournalQuery {
        var q = JournalQuery()
        q.client = client.map { ClientID($0) }
        q.phone = phone
        q.segment = segment
        for name in category where name != "all" {
            guard let c = Category(rawValue: name) else { throw ValidationError("--category: '\(name)' is not one of bonuses, mailings, purchases, segments, other, all") }
            q.categories.insert(c)
        }
        q.types = Set(type)
        q.name = name
        q.context = try context.map { pair in
            guard let eq = pair.firstIndex(of: "="), eq != pair.startIndex else { throw ValidationError("--context: '\(pair)' is not k=v") }
            return JournalQuery.ContextMatch(key: String(pair[..<eq]), value: String(pair[pair.index(after: eq)...]))
        }
        q.from = try from.map { try Self.time($0, "--from", endOfDay: false) }
        q.to = try to.map { try Self.time($0, "--to", endOfDay: true) }
        guard let order = JournalQuery.Order(rawValue: order) else { throw ValidationError("--order: '\(order)' is not desc or asc") }
        q.order = order
        q.limit = limit
        if let cursor {
            guard let parsed = JournalCursor(cursor) else { throw ValidationError("--cursor: '\(cursor)' is not a cursor this command printed") }
            q.cursor = parsed
        }
        guard let language = Language(rawValue: lang) else { throw ValidationError("--lang: '\(lang)' is not ru or en") }
        q.language = language
        return q
    }

    /// A time, or a bare date: its first moment for `--from`, its last for `--to`.
    static func time(_ text: String, _ option: String, endOfDay: Bool) throws -> Timestamp {
        guard let t = Timestamp(text) else { throw ValidationError("\(option): '\(text)' is not a time like 2025-03-01T10:00:00Z or a date like 2025-03-01") }
        return text.count == 10 && endOfDay ? t + .microseconds(Time.microsPerDay - 1) : t
    }

    func run() throws {
        let q = try query()
        let view = try openView(common, verb: "journal")
        let page: JournalPage
        do { page = try view.journal(q) } catch {
            if common.json { print(JSON.object([("ok", .bool(false)), ("error", .string(error.code)), ("message", .string(error.message))]).rendered) }
            printError("ledger journal: \(error.message)")
            throw ExitCode(ExitStatus.refused)
        }
        if common.json {
            print(page.contractJSON.text)
            return
        }
        print(Self.table(page, language: q.language))
    }

    static func table(_ page: JournalPage, language: Language) -> String {
        guard !page.rows.isEmpty else { return language == .russian ? "Нет событий" : "No events" }
        func t(_ text: String) -> String { Printable.escaped(text) }
        var table = Table(header: language == .russian ? ["#", "время", "клиент", "тип", "описание"] : ["#", "time", "client", "type", "description"])
        for row in page.rows {
            let iso = row.at.description
            let clock = String(iso.dropFirst(11).prefix(5))
            let day = language == .russian ? Time.russianDate(row.at.microsecondsSince1970) : String(iso.prefix(10))
            let when = day + " " + clock
            table.rows.append(["\(row.position)", when, t(row.displayName ?? row.client?.rawValue ?? "—"), row.type, t(row.description)])
        }
        var out = table.rendered
        if let next = page.next { out += "\n" + (language == .russian ? "Дальше: --cursor \(next.text)" : "More: --cursor \(next.text)") }
        return out
    }
}
