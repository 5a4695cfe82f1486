import ArgumentParser
import Ledger
import LedgerDomain

/// `ledger replay --client ID`: one client's history with the balances after each event.
struct ReplayVerb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Audit replay of one client: every event in order, the balances after it, the lots it took, and why.",
        discussion: "It reads only the client's events up to now (or up to --as-of / --at-position), through the journal's index of each client's events, and applies them in a state of that client alone.")

    @OptionGroup var common: CommonOptions
    @Option(name: .long, help: "The client's id.") var client: String
    @Option(name: .customLong("as-of"), help: "Up to this time (a date: its end).") var asOf: String?
    @Option(name: .customLong("at-position"), help: "Up to (not including) this position.") var atPosition: UInt64?
    @Option(name: .long, help: "ru (the default) or en.") var lang: String = "ru"

    func validate() throws {
        guard asOf == nil || atPosition == nil else { throw ValidationError("give --as-of or --at-position, not both") }
        guard Language(rawValue: lang) != nil else { throw ValidationError("--lang: '\(lang)' is not ru or en") }
        if let asOf { _ = try JournalVerb.time(asOf, "--as-of", endOfDay: true) }
    }

    func run() throws {
        let language = Language(rawValue: lang) ?? .russian
        let asOf: AsOf? = try atPosition.map { .position($0) } ?? self.asOf.map { .time(try JournalVerb.time($0, "--as-of", endOfDay: true)) }
        let view = try openView(common, verb: "replay", asOf: asOf)
        let found: ClientReplay?
        do { found = try view.replay(client: ClientID(client), language: language) } catch { throw failure(error, json: common.json, verb: "replay") }
        guard let replay = found else {
            let message = "there is no client '\(client)'" + (self.asOf.map { " as of \($0)" } ?? atPosition.map { " before position \($0)" } ?? "")
            if common.json { print(JSON.object([("ok", .bool(false)), ("error", .string(ErrorCode.unknownClient.rawValue)), ("message", .string(message))]).rendered) }
            printError("ledger replay: " + message)
            throw ExitCode(ExitStatus.refused)
        }
        if common.json {
            print(replay.contractJSON.text)
            return
        }
        func t(_ text: String) -> String { Printable.escaped(text) }
        let ru = language == .russian
        var table = Table(header: ru ? ["#", "время", "событие", "доступно", "ожидает", "резерв", "примечание"]
                                     : ["#", "time", "event", "available", "pending", "reserved", "note"])
        for s in replay.steps {
            let when = ru ? Time.russianDate(s.at.microsecondsSince1970) : String(s.at.description.prefix(10))
            table.rows.append(["\(s.position)", when, t(s.description), s.balances.available.formatted(language),
                               s.balances.pending.formatted(language), s.balances.reserved.formatted(language), t(s.notes.joined(separator: "; "))])
        }
        print(table.rendered)
        let b = replay.balances
        print(ru ? "\nИтого: доступно \(b.available.formatted()), ожидает \(b.pending.formatted()), в резерве \(b.reserved.formatted()), списано \(b.used.formatted()), сгорело \(b.expired.formatted()), отменено \(b.cancelled.formatted())"
                 : "\nIn all: available \(b.available.formatted(.english)), pending \(b.pending.formatted(.english)), reserved \(b.reserved.formatted(.english)), used \(b.used.formatted(.english)), expired \(b.expired.formatted(.english)), cancelled \(b.cancelled.formatted(.english))")
    }
}
