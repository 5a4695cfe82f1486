import ArgumentParser
import Glibc
import LedgerLog

@main
struct Ledger: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "A loyalty ledger on a binary append-only log.",
        subcommands: [Verify.self, Demo.self]
    )
}

/// Options every verb takes.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "The data directory.")
    var data: String = "./ledger-data"

    @Flag(name: .long, help: "Print JSON for programs instead of tables for people.")
    var json = false
}

/// Exit statuses of interface.md: 0 success, 1 some input refused, 2 usage error or a damaged log.
enum ExitStatus {
    static let refused: Int32 = 1
    static let failure: Int32 = 2
}

/// Prints a one-line error to standard error (and JSON to standard output under --json),
/// then exits with status 2.
func fail(_ message: String, code: String, json: Bool) -> Never {
    if json { print(JSON.object([("ok", .bool(false)), ("error", .string(code)), ("message", .string(message))]).rendered) }
    printError("ledger: \(message)")
    exit(ExitStatus.failure)
}
