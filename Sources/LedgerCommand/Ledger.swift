import ArgumentParser
import Glibc
import Ledger
import LedgerDomain
import LedgerLog

@main
struct LedgerTool: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "A loyalty ledger on a binary append-only log.",
        discussion: "Exit status: 0 success; 1 the input was read but some of it was refused; 2 usage error, unreadable or damaged log.",
        subcommands: [Submit.self, Advance.self, Client.self, Stats.self, Verify.self, SnapshotVerb.self, Generate.self, Demo.self,
                      JournalVerb.self, ReplayVerb.self, SegmentVerb.self, RebuildVerb.self, ExportVerb.self]
    )

    /// Runs the verb, mapping ArgumentParser's usage errors (its status 64) to interface.md's 2.
    static func main() async {
        // The verb being run, once parsed: a usage error its run finds (a bad filters or rules
        // file…) shows that verb's usage, not the root's.
        var verbType: ParsableCommand.Type? = nil
        do {
            var command = try parseAsRoot(globalOptionsAfterVerb(Array(CommandLine.arguments.dropFirst())))
            verbType = type(of: command)
            if var verb = command as? AsyncParsableCommand { try await verb.run() } else { try command.run() }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                if let verbType, verbType != LedgerTool.self {
                    printError("Error: \(message(for: error))\nUsage: \(usageString(for: verbType))\n  See '\(helpCommand(verbType))' for more information.")
                } else {
                    printError(fullMessage(for: error))
                }
                Glibc.exit(ExitStatus.failure)
            }
            exit(withError: error)
        }
    }
}

/// `ledger VERB [SUBVERB] --help` for a verb of the tool.
func helpCommand(_ verb: ParsableCommand.Type) -> String {
    var path = [verb._commandName]
    for parent in LedgerTool.configuration.subcommands where parent != verb {
        if parent.configuration.subcommands.contains(where: { $0 == verb }) { path.insert(parent._commandName, at: 0) }
    }
    return "ledger " + path.joined(separator: " ") + " --help"
}

/// interface.md writes `ledger [--data DIR] <verb>`: options every verb takes may stand
/// before the verb. ArgumentParser reads a verb's options after it, so move them there.
func globalOptionsAfterVerb(_ arguments: [String]) -> [String] {
    var leading: [String] = []
    var rest = arguments[...]
    while let first = rest.first {
        if first == "--data", rest.count >= 2 {
            leading += rest.prefix(2)
            rest = rest.dropFirst(2)
        } else if first.hasPrefix("--data=") || first == "--json" {
            leading.append(first)
            rest = rest.dropFirst()
        } else {
            break
        }
    }
    guard let verb = rest.first, !leading.isEmpty else { return arguments }
    // A verb with verbs of its own (`segment save`): after the second.
    if verb == "segment", rest.count >= 2, !rest[rest.index(after: rest.startIndex)].hasPrefix("-") {
        return Array(rest.prefix(2)) + leading + Array(rest.dropFirst(2))
    }
    return [verb] + leading + Array(rest.dropFirst())
}

/// Options every verb takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (created on first use).")
    var data: String = "./ledger-data"

    @Flag(name: .long, help: "Print JSON for programs instead of tables for people.")
    var json = false

    func validate() throws {
        guard !data.isEmpty else { throw ValidationError("--data needs a directory; an empty path names none") }
    }
}

/// Exit statuses of interface.md: 0 success, 1 some input refused, 2 usage error or a damaged log.
enum ExitStatus {
    static let refused: Int32 = 1
    static let failure: Int32 = 2
}

/// Reports a failure (JSON on standard output under --json, a line on standard error always)
/// and gives the exit code to throw.
func failure(_ error: Error, json: Bool, verb: String) -> ExitCode {
    var fields: [(String, JSON)] = [("ok", .bool(false))]
    if let log = error as? LogError {
        fields += [("error", .string(log.code.rawValue)), ("message", .string(log.message))]
        if let file = log.file { fields.append(("file", .string(file))) }
        if let offset = log.offset { fields.append(("offset", .uint(offset))) }
    } else if case LedgerError.failed(let inner) = error {
        fields += [("error", .string(inner.code.rawValue)), ("message", .string("\(error)"))]
        if let file = inner.file { fields.append(("file", .string(file))) }
        if let offset = inner.offset { fields.append(("offset", .uint(offset))) }
    } else if case LedgerError.undecodable(let position, _) = error {
        fields += [("error", .string("undecodable")), ("message", .string("\(error)")), ("position", .uint(position))]
    } else {
        fields += [("error", .string("failed")), ("message", .string("\(error)"))]
    }
    if json { print(JSON.object(fields).rendered) }
    printError("ledger \(verb): \(error)")
    return ExitCode(ExitStatus.failure)
}

/// How far ahead of this machine's clock an event's time may be (submit and advance).
struct FutureToleranceOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("How far ahead of this machine's clock an event's time may be: a number with d, h, m or s (default 1d). A time further ahead is refused time_in_future.", valueName: "DURATION"))
    var futureTolerance: String = "1d"

    /// The tolerance in µs, or a usage error naming the option.
    func micros() throws -> Micros {
        let text = futureTolerance
        let units: [Character: Int64] = ["d": 86_400, "h": 3_600, "m": 60, "s": 1]
        if text == "0" { return 0 }
        guard let unit = text.last.flatMap({ units[$0] }), let count = Int64(text.dropLast()), count >= 0, count <= 36_500 * 86_400 / unit else {
            throw ValidationError("--future-tolerance '\(text)' is not a duration like 1d, 12h, 90m or 30s (at most 36500 days)")
        }
        return count * unit * 1_000_000
    }
}

/// Opens the ledger as its writer, or fails with exit status 2 naming what is wrong.
func openLedger(_ common: CommonOptions, verb: String, options: Ledger.Configuration = Ledger.Configuration()) throws -> Ledger {
    do {
        let ledger = try Ledger(directory: common.data, configuration: options)
        if let cut = ledger.openReport.recovery.cut {
            printError("ledger: recovery cut a torn tail of \(cut.bytes) bytes at byte offset \(cut.offset) of \(cut.segmentFile) (\(cut.reason)); the bytes are kept in \(cut.preservedAt)")
        }
        for rejection in ledger.openReport.snapshotRejections {
            printError("ledger: snapshot \(rejection.path) passed over: \(rejection.reason); the state was rebuilt from the log (the file is kept as \(rejection.path).set-aside)")
        }
        if ledger.openReport.unknownTypeEvents > 0 {
            printError("ledger: \(ledger.openReport.unknownTypeEvents) events of types this build does not know were skipped")
        }
        return ledger
    } catch {
        throw failure(error, json: common.json, verb: verb)
    }
}

/// Reads the ledger without its lock, or fails with exit status 2. A torn tail it found is
/// said on standard error, as the writer says the cut it makes.
func openView(_ common: CommonOptions, verb: String, asOf: AsOf? = nil) throws -> LedgerView {
    let view: LedgerView
    do { view = try LedgerView(directory: common.data, asOf: asOf) } catch { throw failure(error, json: common.json, verb: verb) }
    if let torn = view.loadReport?.tornTail { printError("ledger \(verb): " + tornTailWords(torn)) }
    for rejection in view.snapshotRejections {
        printError("ledger \(verb): snapshot \(rejection.path) passed over: \(rejection.reason); the state was rebuilt from the log")
    }
    return view
}

/// A torn tail a reader found, in words: what it is and what the next writer does with it.
func tornTailWords(_ torn: RecoveryReport.TailCut) -> String {
    "the log ends in a torn tail of \(torn.bytes) bytes at byte offset \(torn.offset) of \(torn.segmentFile) (\(torn.reason)): a write a crash interrupted before it was acknowledged; it was not read, and the next writer cuts it and keeps the bytes in \(torn.preservedAt)"
}
