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
        discussion: "The directory is replaced only when it is empty, or holds a finished demo that nothing was added to since; anything else (a submit after the demo, files of your own, an interrupted demo) is kept, and the demo refuses with exit 2.")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "Clients in the program.")
    var clients: Int = 20_000

    @Option(name: .long, help: "Days simulated, from 2025-01-01.")
    var days: Int = 365

    @Option(name: .long, help: "The generator's seed (the same seed gives the same program).")
    var seed: UInt64 = 42

    @Flag(name: .long, help: "Run the log's own demo instead: a million raw events written, reopened, verified, scanned.")
    var log = false

    func run() throws {
        guard clients > 0, days > 0 else { throw ValidationError("--clients and --days must be positive") }
        try prepareDirectory()
        if log {
            try LogDemo(data: common.data + "/log-demo").run()
            DemoDirectory.writeMarker(common.data, finished: (0, 0))
            return
        }
        print("Generating a loyalty program: \(grouped(clients)) clients over \(days) days (seed \(seed)) into \(common.data)")
        // The demo simulates its program's days from 2025-01-01 on, however far that runs past
        // this machine's clock: its own times are meant, so no future tolerance applies.
        var options = Ledger.Configuration()
        options.futureTolerance = .max
        let ledger = try openLedger(common, verb: "demo", options: options)
        let started = monotonicNanos()
        let program = generate()
        defer { program.stop() }
        let tally = try record(program, into: ledger)
        let elapsed = seconds(since: started)
        let stats = ledger.stats()
        try ledger.close()
        print("  \(grouped(tally.lines)) commands → \(grouped(stats.events)) events in \(format2(elapsed)) s (\(grouped(Int(Double(stats.events) / elapsed))) events/s, JSON parsing \(format2(Double(tally.parseNanos) / 1e9)) s beside it, on the other core), durable: one fdatasync a day")
        print("  \(grouped(tally.repeated)) requests a till sent twice, answered with their first result and appended once")
        print("  \(grouped(tally.refused)) refused and journaled (\(tally.refusals.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))); \(tally.invalid) invalid lines")
        print("  the advance steps activated \(grouped(tally.activated)) lots, burned \(grouped(tally.expired)) and gave \(grouped(tally.birthdays)) birthday bonuses (\(grouped(tally.birthdaysRefused)) refused and journaled: blocked clients, subscribers)")
        print("  \(grouped(stats.logBytes)) bytes of log (\(format2(Double(stats.logBytes) / Double(stats.events))) bytes/event, LZ4), \(grouped(stats.clients)) clients, \(grouped(stats.purchases)) purchases")
        try reopenAndLookUp()
    }

    /// What recording the program came to.
    struct Tally {
        var lines = 0, refused = 0, invalid = 0, repeated = 0
        var refusals: [String: Int] = [:]
        var activated = 0, expired = 0, birthdays = 0, birthdaysRefused = 0
        var parseNanos: UInt64 = 0
    }

    /// The program, generated and parsed a day or two ahead on a thread of its own.
    private func generate() -> Handoff<ParsedDay> {
        let config = ProgramGenerator.Config(clients: clients, days: days, seed: seed)
        return Handoff<ParsedDay> { hand in
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
    }

    /// Submits each day's commands and advances to its end, as a till and a scheduler would.
    private func record(_ program: Handoff<ParsedDay>, into ledger: Ledger) throws -> Tally {
        var tally = Tally()
        while let day = program.next() {
            tally.lines += day.lines
            tally.parseNanos += day.parseNanos
            tally.invalid += day.invalid.count
            for message in day.invalid { printError(message) }
            // The day's commands and its advance step are queued before either is waited for,
            // so one sync can make both durable.
            let submitted = try ledger.beginSubmit(day.commands)
            let advanced = try ledger.advance(to: day.advanceTo, beyondClock: true)
            for outcome in try ledger.finish(submitted) {
                switch outcome {
                case .refused(let reason, _, _):
                    tally.refused += 1
                    tally.refusals[reason.code.rawValue, default: 0] += 1
                case .repeated: tally.repeated += 1
                case .accepted: break
                }
            }
            tally.activated += advanced.activated
            tally.expired += advanced.expired
            tally.birthdays += advanced.birthdayBonuses
            tally.birthdaysRefused += advanced.birthdaysRefused
            if isatty(2) != 0 && day.index % 10 == 0 {
                printError("\r\u{1B}[2K  day \(day.index + 1)/\(days): \(grouped(tally.lines)) lines", newline: false)
            }
        }
        if isatty(2) != 0 { printError("\r\u{1B}[2K", newline: false) }
        return tally
    }

    /// Reopens the ledger both ways (a full replay, the snapshot), verifies the log, and looks
    /// a busy client up by phone as support would.
    private func reopenAndLookUp() throws {
        var start = monotonicNanos()
        var replayOptions = Ledger.Configuration()
        replayOptions.useSnapshots = false
        let replayed = try Ledger(directory: common.data, configuration: replayOptions)
        let rebuild = seconds(since: start)
        try replayed.close()
        print("  reopened: every projection rebuilt from the log in \(format2(rebuild * 1000)) ms (\(grouped(Int(Double(replayed.openReport.events) / rebuild))) events/s)")
        start = monotonicNanos()
        let reopened = try Ledger(directory: common.data)
        let fromSnapshot = seconds(since: start)
        if let snapshot = reopened.openReport.snapshot {
            print("  reopened from the snapshot the close wrote (position \(grouped(snapshot.position)), \(grouped(snapshot.bytes)) bytes) in \(format2(fromSnapshot * 1000)) ms: \(format2(rebuild / max(fromSnapshot, 1e-6)))× faster")
        }
        start = monotonicNanos()
        let report = try LogReader.verify(directory: Ledger.logDirectory(common.data))
        print("  verify: \(grouped(report.events)) events in \(grouped(report.batches)) batches: every checksum and the hash chain hold (\(format2(seconds(since: start) * 1000)) ms)")

        // A busy client, found the way support would: by phone, typed another way.
        let phone = reopened.read { state -> String? in
            let busiest = state.records.indices.filter { !state.records[$0].deleted && state.profile($0).phone != nil }
                .max { state.records[$0].eventCount < state.records[$1].eventCount }
            return busiest.flatMap { state.profile($0).phone }
        }
        // The seeds' example segments, defined at the program's end: each records its first members.
        let end = reopened.read { $0.lastEventAt }
        _ = try reopened.submit(MarketingDemo.definitions(at: end))
        var card: ClientCard? = nil
        if let phone {
            let d = Array(phone)
            let typed = "8 (\(String(d[1...3]))) \(String(d[4...6])) \(String(d[7...8]))-\(String(d[9...10]))"
            print("\nSupport looks up the phone \(typed):\n")
            card = reopened.client(phone: typed)
        }
        try reopened.close()
        let logSnapshot = try LogReader(directory: Ledger.logDirectory(common.data)).snapshot
        DemoDirectory.writeMarker(common.data, finished: (logSnapshot.endPosition, logSnapshot.segments.last?.lastBatchCRC ?? 0))
        if let card { print(Client.table(card)) }
        try SupportDemo(view: try LedgerView(directory: common.data), data: common.data).run()
        try MarketingDemo(data: common.data).run()
        print("\nNext: `ledger --data \(common.data) journal --phone …`, `… replay --client …`, `… client --phone …`, `… stats`, `… verify`.")
    }

    /// Makes the directory ready for a demo, or refuses (exit 2, saying why). A demo replaces
    /// only what a finished demo wrote and nobody changed since: the directory must hold
    /// nothing but the demo's marker and its log, the marker must record where the demo's log
    /// ended (position and last batch checksum), and the log must still end exactly there,
    /// with no writer at work in it. Anything else (a submit after the demo, a file of the
    /// user's, an interrupted demo) is kept and the demo refuses.
    func prepareDirectory() throws {
        let path = common.data
        if let refusal = DemoDirectory.whyNotReplaceable(path) {
            printError("ledger demo: \(path) \(refusal); nothing was changed. Name another directory with --data, or remove this one yourself.")
            throw ExitCode(ExitStatus.failure)
        }
        DemoDirectory.removeDemo(path)
        try? SystemCalls.live.makeDirectory(path)
        DemoDirectory.writeMarker(path, finished: nil)
    }
}

/// The demo's marker, `DIR/.ledger-demo` (data-format.md §12): a text line that says the
/// directory was made by `ledger demo` and, once the demo finished, where its log ended.
enum DemoDirectory {
    static let marker = ".ledger-demo"
    /// The only entries a demo's directory may hold besides the marker.
    static let demoEntries: Set<String> = ["log", "log-demo", "LEDGER", "snapshots"]

    /// Writes the marker: `ledger-demo 1 started` while the demo runs, then
    /// `ledger-demo 1 finished END CRC` (the log's end position and last batch CRC, decimal).
    static func writeMarker(_ directory: String, finished: (end: UInt64, crc: UInt32)?) {
        let text = finished.map { "ledger-demo 1 finished \($0.end) \($0.crc)\n" } ?? "ledger-demo 1 started\n"
        let path = directory + "/" + marker
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        fsync(fd)
        close(fd)
        rename(temporary, path)
    }

    /// Nil when `directory` is missing, empty, or holds exactly a finished demo nobody changed;
    /// otherwise why it must be kept.
    static func whyNotReplaceable(_ directory: String) -> String? {
        guard let names = try? SystemCalls.live.listDirectory(directory) else {
            return SystemCalls.live.fileExists(directory) ? "is not a directory this user can read" : nil
        }
        if names.isEmpty { return nil }
        guard names.contains(marker) else {
            return "holds data that no demo wrote (\(listed(names)))"
        }
        let others = names.filter { $0 != marker && !demoEntries.contains($0) }
        if !others.isEmpty { return "holds files a demo did not write (\(listed(others)))" }
        let text = String(decoding: readAll(directory + "/" + marker), as: UTF8.self)
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard words.count == 5, words[0] == "ledger-demo", words[1] == "1", words[2] == "finished",
              let end = UInt64(words[3]), let crc = UInt32(words[4]) else {
            return "holds a demo that did not finish, or whose marker \(marker) is not one this version wrote"
        }
        let log = Ledger.logDirectory(directory)
        // The log's own demo (`--log`) writes only `log-demo`, and records an end of 0.
        guard names.contains("log") else { return end == 0 ? nil : "has a demo marker but its log is missing" }
        if Log.writerIsActive(directory: log) { return "is open: a writer is at work in its log" }
        let logNames = (try? SystemCalls.live.listDirectory(log)) ?? []
        let foreign = logNames.filter { $0 != "LOCK" && $0 != "LOG" && !$0.hasSuffix(".seg") && !$0.hasSuffix(".idx") }
        if !foreign.isEmpty { return "has files in its log that a demo did not write (\(listed(foreign)))" }
        let snapshotNames = (try? SystemCalls.live.listDirectory(Snapshots.directory(directory))) ?? []
        let strays = snapshotNames.filter { !$0.hasSuffix(".snapshot") && !$0.hasSuffix(".snapshot.set-aside") && !$0.hasSuffix(".snapshot.tmp") }
        if !strays.isEmpty { return "has files among its snapshots that a demo did not write (\(listed(strays)))" }
        let snapshot: LogSnapshot
        do { snapshot = try LogReader(directory: log).snapshot } catch {
            return "has a log that cannot be read (\(error)), so it is kept for you to look at"
        }
        if snapshot.endPosition != end || (snapshot.segments.last?.lastBatchCRC ?? 0) != crc {
            let added = snapshot.endPosition > end ? "\(snapshot.endPosition - end) event(s) were appended after the demo" : "its log changed after the demo"
            return "holds data added since the demo wrote it: \(added) (the demo ended at position \(end), the log now ends at \(snapshot.endPosition))"
        }
        return nil
    }

    /// Removes what a finished demo wrote (checked by ``whyNotReplaceable(_:)``).
    static func removeDemo(_ directory: String) {
        for entry in demoEntries { SystemCalls.removeTree(directory + "/" + entry) }
        unlink(directory + "/" + marker)
    }

    static func listed(_ names: [String]) -> String {
        let sorted = names.sorted()
        return sorted.prefix(3).map { "'\(Printable.escaped($0))'" }.joined(separator: ", ") + (sorted.count > 3 ? " and \(sorted.count - 3) more" : "")
    }

    static func readAll(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = read(fd, &bytes, bytes.count)
        return n > 0 ? Array(bytes[0..<n]) : []
    }
}
