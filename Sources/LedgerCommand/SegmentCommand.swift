import ArgumentParser
import Glibc
import Ledger
import LedgerDomain

/// `ledger segment save | members | list | delete` (interface.md).
struct SegmentVerb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "segment",
        abstract: "Segments: define one from a filters file, list them, see their members, delete one.",
        discussion: "The filters and their catalog: the DocC article Segment filters. Members are evaluated as of the ledger's latest event or advance (or --as-of). RFM segments and lifetime stages are named rfm:NAME (rfm:Champions) and lifetime:STAGE (lifetime:sleeping) in members, journal --segment and export --segment.",
        subcommands: [Save.self, Members.self, List.self, Delete.self, RFM.self])

    /// Submits one command, printing what became of it; a refusal exits 1.
    static func submit(_ command: Command, _ common: CommonOptions, verb: String, done: String) throws {
        let ledger = try openLedger(common, verb: verb)
        defer { try? ledger.close() }
        let outcome: Outcome
        do { outcome = try ledger.submit([command])[0] } catch { throw failure(error, json: common.json, verb: verb) }
        switch outcome {
        case .refused(let reason, let message, _):
            if common.json { print(JSON.object([("ok", .bool(false)), ("error", .string(reason.code.rawValue)), ("message", .string(message))]).rendered) }
            printError("ledger \(verb): refused \(reason.code.rawValue): \(message)")
            throw ExitCode(ExitStatus.refused)
        default:
            if common.json { print(JSON.object([("ok", .bool(true))]).rendered) } else { print(done) }
        }
    }

    /// A filters file's text (`-`: standard input) and its filters, or a usage error naming the
    /// file and the bad filter (checked before any log is opened).
    static func filtersFile(_ path: String) throws -> (text: String, filters: [SegmentFilter]) {
        let text: String
        if path == "-" {
            var lines: [String] = []
            while let line = readLine(strippingNewline: false) { lines.append(line) }
            text = lines.joined()
        } else {
            text = try readTextFile(path, option: "--filters")
        }
        do throws(FilterError) { return (text, try SegmentFilter.parseList(text)) } catch {
            throw ValidationError("--filters \(path): \(error.description)")
        }
    }

    struct Save: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Define (or redefine) a segment from a filters file: a JSON array of filters.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The segment's name.") var name: String
        @Option(name: .long, help: "The filters file (- for standard input).") var filters: String
        @Option(name: .long, help: "The segment's colour.") var color: String?

        func run() throws {
            let (text, _) = try SegmentVerb.filtersFile(filters)
            let version = (try? LedgerView(directory: common.data).state.segmentDefinitions[name]?.version).flatMap { $0 }.map { $0 + 1 } ?? 1
            let definition = SegmentDefinition(name: name, color: color, filters: text.trimmingWhitespace(), version: version)
            try SegmentVerb.submit(Command(client: "", event: .segmentDefined(definition)), common, verb: "segment save",
                                   done: "segment '\(name)' saved (version \(version))")
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a segment's definition.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The segment's name.") var name: String

        func run() throws {
            try SegmentVerb.submit(Command(client: "", event: .segmentDeleted(name)), common, verb: "segment delete", done: "segment '\(name)' deleted")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The defined segments: name, colour, version, filters.")
        @OptionGroup var common: CommonOptions

        func run() throws {
            let view = try openView(common, verb: "segment list")
            let definitions = view.state.segmentDefinitions.values.sorted { $0.name < $1.name }
            if common.json {
                let rows: [JSON] = definitions.map { d in
                    .object([("name", .string(d.name)), ("color", d.color.map(JSON.string) ?? .null), ("version", .int(d.version)),
                             ("filters", (try? JSONParser.parse(d.filters)) ?? .string(d.filters))])
                }
                print(JSON.object([("segments", .array(rows))]).rendered)
                return
            }
            var table = Table(header: ["segment", "colour", "version", "filters"])
            for d in definitions { table.rows.append([Printable.escaped(d.name), Printable.escaped(d.color ?? "—"), "\(d.version)", Printable.escaped(d.filters)]) }
            print(definitions.isEmpty ? "no segment is defined" : table.rendered)
        }
    }

    struct Members: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The clients a segment selects, now or as of a time.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The segment's name.") var name: String
        @Option(name: .customLong("as-of"), help: "As of this time (a date: its end): the ledger as it stood then, its day counts from then.")
        var asOf: String?

        func run() throws {
            let at = try asOf.map { try JournalVerb.time($0, "--as-of", endOfDay: true) }
            let view = try openView(common, verb: "segment members", asOf: at.map { .time($0) })
            let members: SegmentMembers
            do { members = try view.segmentMembers(name, at: at) } catch {
                if common.json { print(JSON.object([("ok", .bool(false)), ("error", .string(error.code)), ("message", .string(error.message))]).rendered) }
                printError("ledger segment members: " + error.message)
                throw ExitCode(ExitStatus.refused)
            }
            if common.json {
                print(members.contractJSON.text)
                return
            }
            print("segment '\(Printable.escaped(name))' as of \(members.asOf): \(members.count) client(s)")
            for client in members.clients { print(Printable.escaped(client.rawValue)) }
        }
    }
}

extension SegmentVerb {
    struct RFM: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rfm",
            abstract: "RFM segments (quintile scores of recency, frequency, monetary value) and lifetime stages (new, active, sleeping, lost): how many clients each holds.",
            discussion: "The scoring and the precedence where ranges overlap: the DocC article Segment filters. Members: segment members rfm:NAME or lifetime:STAGE.")
        @OptionGroup var common: CommonOptions
        @Option(name: .customLong("as-of"), help: "As of this time (a date: its end).") var asOf: String?
        @Option(name: .customLong("new-days"), help: "A client is new for this many days in the program (default: the rules' newClientDays).") var newDays: Int64?
        @Option(name: .customLong("active-days"), help: "…then active while its last purchase is at most this many days old (the rules' activeDays).") var activeDays: Int64?
        @Option(name: .customLong("lost-days"), help: "…then sleeping up to this many days, and lost after (the rules' lostDays).") var lostDays: Int64?

        func validate() throws {
            for (name, value) in [("--new-days", newDays), ("--active-days", activeDays), ("--lost-days", lostDays)] {
                if let value, !(0...Rules.daysMax).contains(value) { throw ValidationError("\(name) must be 0 to \(Rules.daysMax) days, got \(value)") }
            }
        }

        func run() throws {
            let at = try asOf.map { try JournalVerb.time($0, "--as-of", endOfDay: true) }
            let view = try openView(common, verb: "segment rfm", asOf: at.map { .time($0) })
            var thresholds = view.state.rules.lifetimeThresholds
            if let newDays { thresholds.newDays = newDays }
            if let activeDays { thresholds.activeDays = activeDays }
            if let lostDays { thresholds.lostDays = lostDays }
            guard thresholds.lostDays >= thresholds.activeDays else {
                throw ValidationError("lost days (\(thresholds.lostDays)) must be at least active days (\(thresholds.activeDays))")
            }
            let a = view.rfm(at: at, thresholds: thresholds)
            if common.json {
                print(JSON.object([
                    ("asOf", .string(Time.isoDate(day: a.day))), ("scored", .int(Int64(a.scored.count))),
                    ("rfm", .object(RFMSegment.allCases.map { ($0.rawValue, .int(Int64(a.count($0)))) })),
                    ("lifetime", .object(LifetimeStage.allCases.map { ($0.rawValue, .int(Int64(a.count($0)))) })),
                ]).rendered)
                return
            }
            print("as of \(Time.isoDate(day: a.day)): \(a.scored.count) client(s) with purchases scored")
            var table = Table(header: ["RFM segment", "clients"])
            for s in RFMSegment.allCases { table.rows.append([s.rawValue, "\(a.count(s))"]) }
            print(table.rendered)
            var stages = Table(header: ["lifetime stage", "clients"])
            for s in LifetimeStage.allCases { stages.rows.append([s.rawValue, "\(a.count(s))"]) }
            print(stages.rendered)
        }
    }
}

extension String {
    /// Without the spaces and line breaks at either end.
    func trimmingWhitespace() -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }
        return String(drop(while: blank).reversed().drop(while: blank).reversed())
    }
}
