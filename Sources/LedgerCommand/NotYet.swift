import ArgumentParser

/// The contract's verbs whose issues have not landed yet (rebuild). Each takes any arguments and answers, with exit 2, that the verb is not available
/// yet, rather than ArgumentParser's "Unknown option '--data'".
protocol NotYetVerb: ParsableCommand {
    static var verb: String { get }
    static var comesWith: String { get }
    var arguments: [String] { get }
}

extension NotYetVerb {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: verb, abstract: "Not available yet: comes with \(comesWith) (interface.md's contract).")
    }

    func run() throws {
        let json = arguments.contains("--json")
        let message = "`ledger \(Self.verb)` is not available yet: it comes with \(Self.comesWith); this build has submit, advance, client, journal, replay, segment, export, stats, verify, snapshot, generate and demo"
        if json { print(JSON.object([("ok", .bool(false)), ("error", .string("not_available")), ("message", .string(message))]).rendered) }
        printError("ledger \(Self.verb): " + message)
        throw ExitCode(ExitStatus.failure)
    }
}

struct RebuildVerb: NotYetVerb {
    static let verb = "rebuild"
    static let comesWith = "the segments and rebuilds issue"
    @Argument(parsing: .allUnrecognized) var arguments: [String] = []
}
