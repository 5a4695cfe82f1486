import ArgumentParser
import Glibc
import Ledger
import LedgerDomain

/// `ledger rebuild [--rules FILE] [--segments FILE] [--apply]` (interface.md).
struct RebuildVerb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild",
        abstract: "Decide the whole log again under other rules or segment definitions, and show what would change.",
        discussion: """
            Reads the log as it stands (the ledger keeps serving) and decides every command again into a fresh state, \
            on --workers threads; then compares it with the ledger: who enters and leaves each segment and level, whose \
            balances and expiry schedule change, which commands would be refused. Under the log's own rules it reports no \
            difference. --rules FILE: a JSON object of rules fields, as a rules.changed line's "rules" (those fields hold \
            from the log's start). --segments FILE: a JSON array of {"name","filters"} that replace or add to the defined \
            segments. The DocC article Rebuilds says what is decided again and how.
            """)

    @OptionGroup var common: CommonOptions
    @Option(name: .long, help: "A JSON object of rules fields (accrualPercent, pendingDays, lifetimeDays, returnPolicy, birthdayBonus, welcomeBonus, levels, levelBasis, levelWindowDays).")
    var rules: String?
    @Option(name: .long, help: "A JSON array of segments: {\"name\": …, \"filters\": [ … ]}.") var segments: String?
    @Option(name: .long, help: "Threads deciding (default 2: this machine's cores).") var workers: Int = 2
    @Flag(name: .long, help: "Record the result: the rules and segment definitions given, and the level transitions they make.")
    var apply = false
    @Option(name: .long, help: "Client ids listed per change in the table (all of them under --json).") var show: Int = 5

    func validate() throws {
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1 to 64, got \(workers)") }
        guard show >= 0 else { throw ValidationError("--show must be 0 or more") }
    }

    func run() throws {
        let patch = try rules.map(Self.rulesFile)
        let given = try segments.map(Self.segmentsFile) ?? [:]
        let definitions = given.mapValues(\.filters)
        let view = try openView(common, verb: "rebuild")
        let terminal = isatty(2) == 1
        let report: RebuildReport
        do {
            report = try Rebuild.run(view, directory: common.data, options: Rebuild.Options(rules: patch, segments: definitions, workers: workers)) { p in
                guard terminal else { return }
                let share = p.total == 0 ? 1 : Double(p.done) / Double(p.total)
                let bar = String(repeating: "#", count: Int(share * 30)) + String(repeating: ".", count: 30 - Int(share * 30))
                let line = "\r\(p.phase == .deciding ? "deciding " : "comparing") [\(bar)] \(Int(share * 100))%  \(p.done) of \(p.total) events"
                printError(line, newline: false)
            }
        } catch let error as SegmentError {
            if terminal { printError("") }
            if common.json { print(JSON.object([("ok", .bool(false)), ("error", .string(error.code)), ("message", .string(error.message))]).rendered) }
            printError("ledger rebuild: " + error.message)
            throw ExitCode(ExitStatus.refused)
        } catch {
            if terminal { printError("") }
            throw failure(error, json: common.json, verb: "rebuild")
        }
        if terminal { printError("\r" + String(repeating: " ", count: 78) + "\r", newline: false) }
        if apply { try Self.record(report, rules: patch, segments: given, view: view, common) }
        if common.json {
            print(report.contractJSON.text)
        } else {
            print(Self.table(report, show: show))
        }
    }

    /// `--apply`: the rules and definitions given recorded, then each client whose level the
    /// rebuild changes set back to the level the (new) rules give, unless set by hand.
    static func record(_ report: RebuildReport, rules: RulesPatch?, segments: [String: (text: String, filters: [SegmentFilter])], view: LedgerView,
                       _ common: CommonOptions) throws {
        var commands: [Command] = []
        if let rules { commands.append(Command(client: "", .changeRules(rules))) }
        for (name, given) in segments.sorted(by: { $0.key < $1.key }) {
            let version = (view.state.segmentDefinitions[name]?.version ?? 0) + 1
            commands.append(Command(client: "", event: .segmentDefined(SegmentDefinition(name: name, filters: given.text, version: version))))
        }
        let moved = Set(report.levels.values.flatMap { $0.entered + $0.left })
        for client in moved.sorted() where view.client(id: client.rawValue)?.levelManual == false {
            commands.append(Command(client: client.rawValue, .setLevel(nil)))
        }
        guard !commands.isEmpty else { return }
        let ledger = try openLedger(common, verb: "rebuild --apply")
        defer { try? ledger.close() }
        let outcomes: [Outcome]
        do { outcomes = try ledger.submit(commands) } catch { throw failure(error, json: common.json, verb: "rebuild --apply") }
        let refused = outcomes.enumerated().filter { !$0.element.isAccepted }
        if let (k, outcome) = refused.first {
            printError("ledger rebuild --apply: \(refused.count) of \(commands.count) commands refused, the first (\(commands[k].typeName) \(commands[k].client)): \(outcome)")
            throw ExitCode(ExitStatus.refused)
        }
        if !common.json { print("applied: \(commands.count) command(s) recorded (rules, segment definitions, level transitions)") }
    }

    /// The rules file: the fields of a `rules.changed` line's `rules`, checked as submit checks them.
    static func rulesFile(_ path: String) throws -> RulesPatch {
        let text = try readTextFile(path, option: "--rules")
        let line = #"{"type":"rules.changed","rules":"# + text + "}"
        let command: Command
        do throws(InvalidInput) { command = try CommandParser.parse(line: line, number: 1) } catch {
            throw ValidationError("--rules \(path): field '\(error.field ?? "rules")': \(error.reason)")
        }
        guard case .changeRules(let patch) = command.operation else { throw ValidationError("--rules \(path): not a rules object") }
        return patch
    }

    /// The segments file: `[{"name": …, "filters": [ … ]}, …]`, each checked as `segment save` checks it.
    static func segmentsFile(_ path: String) throws -> [String: (text: String, filters: [SegmentFilter])] {
        let text = try readTextFile(path, option: "--segments")
        guard case .array(let list)? = try? JSONParser.parse(text) else { throw ValidationError("--segments \(path): not a JSON array of {\"name\",\"filters\"}") }
        var result: [String: (text: String, filters: [SegmentFilter])] = [:]
        for (k, element) in list.enumerated() {
            guard case .string(let name)? = element["name"], !name.isEmpty, let filters = element["filters"] else {
                throw ValidationError("--segments \(path): segment \(k + 1) needs a \"name\" and \"filters\"")
            }
            guard result[name] == nil else { throw ValidationError("--segments \(path): segment '\(name)' is given twice") }
            do throws(FilterError) { result[name] = (filters.text, try SegmentFilter.parseList(filters.text)) } catch {
                throw ValidationError("--segments \(path): segment '\(name)': \(error.description)")
            }
        }
        return result
    }

    static func table(_ r: RebuildReport, show: Int) -> String {
        func ids(_ list: [ClientID]) -> String {
            guard show > 0, !list.isEmpty else { return "" }
            let shown = list.prefix(show).map { Printable.escaped($0.rawValue) }.joined(separator: ", ")
            return " (" + shown + (list.count > show ? ", …" : "") + ")"
        }
        var out = "rebuilt \(r.events) events, \(r.clients) clients, \(r.commands) commands decided again on \(r.workers) worker(s) in \(String(format: "%.1f", r.seconds)) s (\(Int(r.eventsPerSecond)) events/s)\n"
        guard !r.isEmpty else { return out + "no difference: the ledger stands as these rules and segments make it" }
        for (title, map) in [("segments", r.segments), ("levels", r.levels)] where !map.isEmpty {
            out += "\(title):\n"
            for (name, t) in map.sorted(by: { $0.key < $1.key }) {
                out += "  \(Printable.escaped(name)): \(t.entered.count) enter\(ids(t.entered)), \(t.left.count) leave\(ids(t.left))\n"
            }
        }
        if !r.balances.isEmpty {
            out += "balances: \(r.balances.count) client(s) change\(ids(r.balances.map(\.client))); expired \(Money.format(r.expiredBefore)) → \(Money.format(r.expiredAfter)) bonuses, \(r.clientsLosingMore) client(s) lose more to expiry\n"
        }
        if !r.expiries.isEmpty {
            out += "expiry schedules: \(r.expiries.count) client(s) change\(ids(r.expiries.map(\.client))); what burns by month if nothing is spent, now → rebuilt:\n"
            for m in r.burnsByMonth { out += "  \(m.month)  \(Money.format(m.before)) → \(Money.format(m.after))\n" }
        }
        if let first = r.refused.first {
            out += "refused: \(r.refused.count) command(s) the ledger accepted would be refused (the first: \(Printable.escaped(first.client.rawValue)) at #\(first.position): \(Printable.escaped(first.reason)))\n"
        }
        return String(out.dropLast())
    }
}
