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
        subcommands: [Submit.self, Advance.self, Client.self, Stats.self, Verify.self, Generate.self, Demo.self]
    )

    /// Runs the verb, mapping ArgumentParser's usage errors (its status 64) to interface.md's 2.
    static func main() async {
        do {
            var command = try parseAsRoot(globalOptionsAfterVerb(Array(CommandLine.arguments.dropFirst())))
            if var verb = command as? AsyncParsableCommand { try await verb.run() } else { try command.run() }
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                printError(fullMessage(for: error))
                Glibc.exit(ExitStatus.failure)
            }
            exit(withError: error)
        }
    }
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
    return [verb] + leading + Array(rest.dropFirst())
}

/// Options every verb takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory (created on first use).")
    var data: String = "./ledger-data"

    @Flag(name: .long, help: "Print JSON for programs instead of tables for people.")
    var json = false
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
    } else if case LedgerError.failed(let inner as LogError) = error {
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

/// Opens the ledger as its writer, or fails with exit status 2 naming what is wrong.
func openLedger(_ common: CommonOptions, verb: String) throws -> Ledger {
    do {
        let ledger = try Ledger(directory: common.data)
        if let cut = ledger.openReport.recovery.cut {
            printError("ledger: recovery cut a torn tail of \(cut.bytes) bytes at byte offset \(cut.offset) of \(cut.segmentFile) (\(cut.reason)); the bytes are kept in \(cut.preservedAt)")
        }
        if ledger.openReport.unknownTypeEvents > 0 {
            printError("ledger: \(ledger.openReport.unknownTypeEvents) events of types this build does not know were skipped")
        }
        return ledger
    } catch {
        throw failure(error, json: common.json, verb: verb)
    }
}

/// Reads the ledger without its lock, or fails with exit status 2.
func openView(_ common: CommonOptions, verb: String) throws -> LedgerView {
    do { return try LedgerView(directory: common.data) } catch { throw failure(error, json: common.json, verb: verb) }
}
