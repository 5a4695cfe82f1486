import ArgumentParser
import Glibc
import Ledger
import LedgerDomain
import LedgerGenerator
import LedgerLog

/// A generated day's commands, parsed.
struct ParsedDay: Sendable {
    var index: Int
    var advanceTo: Micros
    var lines: Int
    var commands: [Command] = []
    var invalid: [String] = []
    var parseNanos: UInt64 = 0
}

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a realistic loyalty program into the data directory, then show its figures and a client's card.",
        discussion: "The directory is replaced only when it is empty or holds an earlier demo; a directory with other data is refused.")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Clients in the program.")
    var clients: Int = 20_000

    @Option(name: .long, help: "Days simulated, from 2025-01-01.")
    var days: Int = 365

    @Option(name: .long, help: "The generator's seed (the same seed gives the same program).")
    var seed: UInt64 = 42

    @Flag(name: .long, help: "Run the log's own demo instead: a million raw events written, reopened, verified, scanned.")
    var log = false

    static let marker = ".ledger-demo"

    func run() throws {
        guard clients > 0, days > 0 else { throw ValidationError("--clients and --days must be positive") }
        try prepareDirectory()
        if log {
            try LogDemo(data: common.data + "/log-demo").run()
            return
        }
        print("Generating a loyalty program: \(grouped(clients)) clients over \(days) days (seed \(seed)) into \(common.data)")
        let ledger = try openLedger(common, verb: "demo")
        let started = monotonicNanos()
        var lines = 0, refused = 0, invalid = 0, repeated = 0
        var refusals: [String: Int] = [:]
        var activated = 0, expired = 0, birthdays = 0, birthdaysRefused = 0
        var parseNanos: UInt64 = 0
        // The program is generated and parsed a day or two ahead, on a thread of its own.
        let config = ProgramGenerator.Config(clients: clients, days: days, seed: seed)
        let program = Handoff<ParsedDay> { hand in
            struct Stopped: Error {}
            var generator = ProgramGenerator(config)
            var lines = 0
            try? generator.run { day throws(Stopped) in
                let parseStart = monotonicNanos()
                var parsed = ParsedDay(index: day.index, advanceTo: day.advanceTo, lines: day.lines.count)
                parsed.commands.reserveCapacity(day.lines.count)
                for text in day.lines {
                    lines += 1
                    do throws(InvalidInput) { parsed.commands.append(try CommandParser.parse(line: text, number: lines)) } catch {
                        parsed.invalid.append("generator line \(lines) is invalid: \(error)")
                    }
                }
                parsed.parseNanos = monotonicNanos() - parseStart
                guard hand(parsed) else { throw Stopped() }  // the demo stopped: the rest is not wanted
            }
        }
        defer { program.stop() }
        while let day = program.next() {
            lines += day.lines
            parseNanos += day.parseNanos
            invalid += day.invalid.count
            for message in day.invalid { printError(message) }
            // The day's commands and its advance step are queued before either is waited for,
            // so one sync can make both durable.
            let submitted = try ledger.beginSubmit(day.commands)
            let advanced = try ledger.advance(to: day.advanceTo)
            for outcome in try ledger.finish(submitted) {
                switch outcome {
                case .refused(let code, _, _):
                    refused += 1
                    refusals[code, default: 0] += 1
                case .repeated: repeated += 1
                case .accepted: break
                }
            }
            activated += advanced.activated
            expired += advanced.expired
            birthdays += advanced.birthdayBonuses
            birthdaysRefused += advanced.birthdaysRefused
            if isatty(2) != 0 && day.index % 10 == 0 {
                printError("\r\u{1B}[2K  day \(day.index + 1)/\(days): \(grouped(lines)) lines", newline: false)
            }
        }
        if isatty(2) != 0 { printError("\r\u{1B}[2K", newline: false) }
        let elapsed = seconds(since: started)
        let stats = ledger.stats()
        try ledger.close()
        print("  \(grouped(lines)) commands → \(grouped(stats.events)) events in \(format2(elapsed)) s (\(grouped(Int(Double(stats.events) / elapsed))) events/s, JSON parsing \(format2(Double(parseNanos) / 1e9)) s beside it, on the other core), durable: one fdatasync a day")
        print("  \(grouped(repeated)) requests a till sent twice, answered with their first result and appended once")
        print("  \(grouped(refused)) refused and journaled (\(refusals.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))); \(invalid) invalid lines")
        print("  the advance steps activated \(grouped(activated)) lots, burned \(grouped(expired)) and gave \(grouped(birthdays)) birthday bonuses (\(grouped(birthdaysRefused)) refused and journaled: blocked clients, subscribers)")
        print("  \(grouped(stats.logBytes)) bytes of log (\(format2(Double(stats.logBytes) / Double(stats.events))) bytes/event, LZ4), \(grouped(stats.clients)) clients, \(grouped(stats.purchases)) purchases")

        var start = monotonicNanos()
        let reopened = try Ledger(directory: common.data)
        let rebuild = seconds(since: start)
        print("  reopened: every projection rebuilt from the log in \(format2(rebuild * 1000)) ms (\(grouped(Int(Double(reopened.openReport.events) / rebuild))) events/s)")
        start = monotonicNanos()
        let report = try LogReader.verify(directory: Ledger.logDirectory(common.data))
        print("  verify: \(grouped(report.events)) events in \(grouped(report.batches)) batches: every checksum and the hash chain hold (\(format2(seconds(since: start) * 1000)) ms)")

        // A busy client, found the way support would: by phone, typed another way.
        let phone = reopened.read { state -> String? in
            let busiest = state.records.indices.filter { !state.records[$0].deleted && state.profile($0).phone != nil }
                .max { state.records[$0].eventCount < state.records[$1].eventCount }
            return busiest.flatMap { state.profile($0).phone }
        }
        var card: ClientCard? = nil
        if let phone {
            let d = Array(phone)
            let typed = "8 (\(String(d[1...3]))) \(String(d[4...6])) \(String(d[7...8]))-\(String(d[9...10]))"
            print("\nSupport looks up the phone \(typed):\n")
            card = reopened.client(phone: typed)
        }
        try reopened.close()
        if let card { print(Client.table(card)) }
        print("\nNext: `ledger --data \(common.data) client --phone …`, `ledger --data \(common.data) stats`, `ledger --data \(common.data) verify`.")
    }

    /// Refuses a directory that holds anything but an earlier demo; empties an earlier demo.
    func prepareDirectory() throws {
        let path = common.data
        if let dir = opendir(path) {
            var names: [String] = []
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
                if name != "." && name != ".." { names.append(name) }
            }
            closedir(dir)
            if !names.isEmpty && !names.contains(Self.marker) {
                printError("ledger demo: \(path) holds data that is not an earlier demo; name another directory with --data")
                throw ExitCode(ExitStatus.failure)
            }
            SystemCalls.removeTree(path)
        }
        _ = mkdir(path, 0o700)
        let fd = open(path + "/" + Self.marker, O_WRONLY | O_CREAT, 0o600)
        if fd >= 0 { close(fd) }
    }
}
