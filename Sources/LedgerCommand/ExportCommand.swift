import ArgumentParser
import Ledger
import LedgerDomain
import LedgerExport

/// `ledger export --format csv|xlsx [--segment NAME] [--filters FILE] --out FILE` (interface.md).
struct ExportVerb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the client list (profile, balances, level, purchases, segments) as CSV or an xlsx workbook.",
        discussion: """
            All clients not deleted, a segment's members (--segment), the clients a filters file selects (--filters), or both. \
            The file appears whole or not at all. A workbook holds at most 1 048 575 clients; export more as csv. \
            Check a workbook with LibreOffice: libreoffice --headless --convert-to csv FILE.xlsx. \
            The columns: the DocC article Export.
            """)

    @OptionGroup var common: CommonOptions
    @Option(name: .long, help: "csv or xlsx.") var format: String
    @Option(name: .long, help: "Only the members of this segment.") var segment: String?
    @Option(name: .long, help: "Only the clients these filters select (a filters file, as segment save takes).") var filters: String?
    @Option(name: .long, help: "The file to write (replaced when it exists).") var out: String
    @Option(name: .long, help: "The header's and the values' language: ru (the default) or en.") var lang: String = "ru"

    func run() throws {
        guard let format = ClientExport.Format(rawValue: format) else { throw ValidationError("--format: '\(format)' is not csv or xlsx") }
        guard let language = Language(rawValue: lang) else { throw ValidationError("--lang: '\(lang)' is not ru or en") }
        guard !out.isEmpty else { throw ValidationError("--out needs a file name") }
        let chosen = try filters.map { try SegmentVerb.filtersFile($0).filters }
        let view = try openView(common, verb: "export")
        let table: ClientTable
        do { table = try view.clientTable(segment: segment, filters: chosen, language: language) } catch {
            if common.json { print(JSON.object([("ok", .bool(false)), ("error", .string(error.code)), ("message", .string(error.message))]).rendered) }
            printError("ledger export: " + error.message)
            throw ExitCode(ExitStatus.refused)
        }
        do { try ClientExport.write(table, format: format, to: out) } catch {
            if common.json { print(JSON.object([("ok", .bool(false)), ("error", .string("failed")), ("message", .string(error.message))]).rendered) }
            printError("ledger export: " + error.message)
            throw ExitCode(ExitStatus.failure)
        }
        if common.json {
            print(JSON.object([("ok", .bool(true)), ("file", .string(out)), ("format", .string(format.rawValue)),
                               ("clients", .int(Int64(table.count))), ("asOf", .string(table.asOf.description))]).rendered)
        } else {
            print("\(table.count) client(s) as of \(table.asOf) written to \(out) (\(format.rawValue))")
        }
    }
}
