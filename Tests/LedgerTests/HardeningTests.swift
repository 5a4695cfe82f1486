import Dispatch
import Glibc
import Synchronization
import Testing
@testable import Ledger
@testable import LedgerDomain
@testable import LedgerLog

/// The faults found from outside (issue 21): each test names the defect it guards against and
/// failed on the code before the fix.
@Suite("Nothing lost, nothing misreported")
struct HardeningTests {
    static let register = #"{"type":"client.registered","at":"2025-01-01T00:00:00Z","client":"c1","phone":"+79161234567","name":"Анна"}"#

    @Test("a purchase and a return of 10^10 kopecks are decided, not a crash (the return's share overflowed Int64 and killed the writer)")
    func returnOfTenBillion() throws {
        let dir = TemporaryDirectory()
        let input = [Self.register,
                     #"{"type":"purchase.made","at":"2025-01-02T00:00:00Z","client":"c1","purchase":"p1","total":10000000000,"paid":10000000000}"#,
                     #"{"type":"purchase.returned","at":"2025-01-03T00:00:00Z","client":"c1","purchase":"p1","return":"r1","amount":5000000000}"#,
                     #"{"type":"purchase.returned","at":"2025-01-03T00:00:01Z","client":"c1","purchase":"p1","return":"r2","amount":5000000000}"#]
        let run = Run(["--data", dir.path, "submit", "--json"], stdin: input.joined(separator: "\n") + "\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.lines.count == 4 && run.lines.allSatisfy { $0["ok"] == .bool(true) }, "\(run.stdout)")
        let card = try #require(LedgerView(directory: dir.path).client(id: "c1"))
        #expect(card.balances.pending.minorUnits == 0 && card.balances.cancelled == card.balances.accrued, "two halves take back exactly the whole: \(card.balances)")
        // The share itself, on the widest operands input can give: exact, in 128 bits.
        #expect(Arithmetic.share(AmountLimits.amountMax, times: AmountLimits.amountMax - 1, over: AmountLimits.amountMax) == AmountLimits.amountMax - 1)
        #expect(Arithmetic.share(Int64.max, times: Int64.max, over: 1) == Int64.max, "past Int64 it saturates, never traps")
    }

    @Test("the demo walks the four support scenarios on a real case of its program (or says the program has none)")
    func demoSupportScenarios() throws {
        let dir = TemporaryDirectory()
        let run = Run(["--data", dir.path + "/d", "demo", "--clients", "400", "--days", "150"])
        #expect(run.status == 0, "\(run.stderr)")
        for scenario in ["«Бонусы не пришли»", "«Установил карту Wallet, а бонус не пришёл»", "«Не пришёл бонус ко дню рождения»", "«Бонус ко дню рождения пришёл дважды»"] {
            #expect(run.stdout.contains(scenario), "\(scenario) is walked")
        }
        #expect(run.stdout.contains("ещё не активны: активируются"), "the pending accrual is explained: \(run.stdout.suffix(3000))")
        #expect(run.stdout.contains("ни одно правило не даёт бонус за установку карты Wallet"))
    }

    @Test("the demo never replaces a directory holding what it did not write: a submit after it, a user's file, an interrupted demo")
    func demoKeepsData() throws {
        let dir = TemporaryDirectory()
        let data = dir.path + "/d"
        #expect(Run(["--data", data, "demo", "--clients", "40", "--days", "3"]).status == 0)
        #expect(Run(["--data", data, "demo", "--clients", "40", "--days", "3"]).status == 0, "a finished demo nobody changed is replaced")
        let submitted = Run(["--data", data, "submit", "--json"], stdin: #"{"type":"client.registered","client":"mine","phone":"+79990000001"}"# + "\n")
        #expect(submitted.status == 0)
        let again = Run(["--data", data, "demo", "--clients", "40", "--days", "3"])
        #expect(again.status == 2 && again.stderr.contains("appended after the demo"), "\(again.stderr)")
        #expect(try LedgerView(directory: data).client(id: "mine") != nil, "the acknowledged client is still there")
        let other = dir.path + "/o"
        mkdir(other, 0o700)
        writeFile(other + "/notes.txt", "mine")
        let refused = Run(["--data", other, "demo"])
        #expect(refused.status == 2 && refused.stderr.contains("notes.txt"), "\(refused.stderr)")
        #expect(readFile(other + "/notes.txt") == Array("mine".utf8))
        let interrupted = dir.path + "/i"
        mkdir(interrupted, 0o700)
        writeFile(interrupted + "/.ledger-demo", "ledger-demo 1 started\n")
        #expect(Run(["--data", interrupted, "demo"]).status == 2, "an interrupted demo is kept for its owner to look at")
    }

    @Test("an event time a year ahead of the clock is refused time_in_future and not recorded; an advance past the tolerance needs --allow-future")
    func futureTimes() throws {
        let dir = TemporaryDirectory()
        let input = [Self.register,
                     #"{"type":"bonus.accrued","at":"9999-12-31","client":"c1","amount":100}"#,
                     #"{"type":"bonus.accrued","client":"c1","amount":100}"#]
        let run = Run(["--data", dir.path, "submit", "--json"], stdin: input.joined(separator: "\n") + "\n")
        #expect(run.status == 1)
        #expect(run.lines[1]["error"] == .string("time_in_future") && run.lines[1]["recorded"] == nil, "\(run.stdout)")
        #expect(run.lines[2]["ok"] == .bool(true), "a real event after the typo is not out_of_order")
        let events = try LedgerView(directory: dir.path).stats().events
        let advance = Run(["--data", dir.path, "advance", "--to", "2099-01-01", "--json"])
        #expect(advance.status == 2 && advance.stderr.contains("--allow-future"), "\(advance.stderr)")
        #expect(try LedgerView(directory: dir.path).stats().events == events, "the refused advance appended nothing")
        #expect(Run(["--data", dir.path, "advance", "--to", "2099-01-01", "--allow-future", "--json"]).status == 0)
        let tight = Run(["--data", dir.path, "submit", "--json", "--future-tolerance", "0"], stdin: #"{"type":"bonus.accrued","at":"2099-01-02","client":"c1","amount":1}"# + "\n")
        #expect(tight.lines.first?["error"] == .string("time_in_future"))
        // Times far behind the clock stay allowed: a program replaying its history from the past.
        let past = TemporaryDirectory()
        #expect(Run(["--data", past.path, "submit"], stdin: Self.register + "\n").status == 0)
    }

    @Test("malformed input is refused without being recorded; a well-formed operation the state refuses is recorded")
    func malformedNotRecorded() throws {
        let dir = TemporaryDirectory()
        let input = [Self.register,
                     #"{"type":"bonus.accrued","at":"2025-01-02","client":"c1","amount":0,"reason":"manual"}"#,
                     #"{"type":"bonus.accrued","at":"2025-01-02","client":"c1","amount":100,"reason":"manual","expiresAt":"2025-01-01"}"#,
                     #"{"type":"bonus.accrued","at":"2025-01-02","client":"c1","amount":9223372036854775808}"#,
                     #"{"type":"bonus.written_off","at":"2025-01-02","client":"c1","amount":500}"#]
        let run = Run(["--data", dir.path, "submit", "--json"], stdin: input.joined(separator: "\n") + "\n")
        let lines = run.lines
        #expect(lines[1]["error"] == .string("invalid_amount") && lines[1]["recorded"] == nil, "\(run.stdout)")
        #expect(lines[2]["error"] == .string("invalid_event") && lines[2]["recorded"] == nil)
        #expect(lines[3]["error"] == .string("invalid_amount"), "2^63 is out of the amount's range, not 'not an integer'")
        for k in 1...3 {
            guard case .string(let message)? = lines[k]["message"] else { Issue.record("no message"); continue }
            #expect(message.hasPrefix("line \(k + 1): field '"), "\(message)")
        }
        if case .string(let message)? = lines[1]["message"] { #expect(message.contains("must be 1 to"), "the range stated is the one accepted: \(message)") }
        #expect(lines[4]["error"] == .string("insufficient_balance") && lines[4]["recorded"] == .integer(1), "the state's refusal is journaled")
        #expect(try LedgerView(directory: dir.path).stats().events == 2, "the registration and the journaled refusal, nothing else")
    }

    /// A ledger of several small segments, made through the facade.
    static func segmentedLedger(_ path: String) throws -> UInt64 {
        var options = Ledger.Configuration()
        options.segmentBytes = 4096
        let ledger = try Ledger(directory: path, configuration: options)
        _ = try ledger.submit(commands([Self.register]))
        for k in 0..<300 {
            // A commit each, so that the small segments roll many times.
            _ = try ledger.submit(commands([#"{"type":"bonus.accrued","at":"2025-01-02","client":"c1","amount":\#(k + 1),"comment":"a comment to fill the segments \#(k)"}"#]))
        }
        let end = ledger.stats().events
        try ledger.close()
        return end
    }

    @Test("a missing first, middle or last segment, or a vanished log, is damage naming what is missing, never an empty or shorter ledger")
    func missingSegments() throws {
        let dir = TemporaryDirectory()
        let source = dir.path + "/source"
        _ = try Self.segmentedLedger(source)
        let segments = try SystemCalls.live.listDirectory(Ledger.logDirectory(source)).filter { $0.hasSuffix(".seg") }.sorted()
        #expect(segments.count >= 4, "\(segments)")
        func copy(_ name: String) -> String {
            let target = dir.path + "/" + name
            mkdir(target, 0o700)
            mkdir(target + "/log", 0o700)
            writeFile(target + "/LEDGER", readFile(source + "/LEDGER"))
            for file in (try? SystemCalls.live.listDirectory(Ledger.logDirectory(source))) ?? [] {
                writeFile(target + "/log/" + file, readFile(source + "/log/" + file))
            }
            return target
        }
        for (name, missing) in [("first", segments.first!), ("middle", segments[segments.count / 2]), ("last", segments.last!)] {
            let target = copy(name)
            unlink(target + "/log/" + missing)
            #expect(throws: LogError.self, "\(name)") { _ = try Ledger(directory: target) }
            #expect(throws: LogError.self, "\(name)") { _ = try LedgerView(directory: target) }
            let verify = Run(["--data", target, "verify"])
            #expect(verify.status == 2 && verify.stderr.contains("missing"), "\(name): \(verify.stderr)")
            let submit = Run(["--data", target, "submit"], stdin: Self.register + "\n")
            #expect(submit.status == 2, "no second history beside the orphaned one: \(name)")
        }
        let renamed = copy("renamed")
        for segment in segments { rename(renamed + "/log/" + segment, renamed + "/log/" + segment + ".bak") }
        let verify = Run(["--data", renamed, "verify", "--json"])
        #expect(verify.status == 2 && !verify.stdout.contains("\"ok\":true"), "\(verify.stdout) \(verify.stderr)")
        let vanished = copy("vanished")
        SystemCalls.removeTree(vanished + "/log")
        #expect(Run(["--data", vanished, "stats"]).status == 2)
        #expect(Run(["--data", vanished, "submit"], stdin: Self.register + "\n").status == 2)
        #expect(!SystemCalls.live.fileExists(vanished + "/log/LOG"), "no new log was started")
        // The healthy original verifies and reopens whole.
        #expect(Run(["--data", source, "verify"]).status == 0)
        // A directory from before identities (no LOG, no LEDGER) is read as it is, and its next
        // writer gives it both.
        let old = copy("old")
        unlink(old + "/LEDGER")
        unlink(old + "/log/LOG")
        #expect(try LedgerView(directory: old).stats().events == (try LedgerView(directory: source).stats().events))
        try Ledger(directory: old).close()
        #expect(SystemCalls.live.fileExists(old + "/LEDGER") && SystemCalls.live.fileExists(old + "/log/LOG"))
        #expect(try Ledger.checkIdentity(directory: old) != nil)
    }

    @Test("readers in another process beside a busy writer never report damage (1 000 reads: verify, a view, a scan)")
    func readersBesideWriter() throws {
        let dir = TemporaryDirectory()
        let data = dir.path + "/d"
        let program = dir.path + "/program.jsonl"
        #expect(Run(["generate", "--clients", "20000", "--days", "30", "--seed", "5", "--out", program]).status == 0)
        #expect(Run(["--data", data, "submit"], stdin: Self.register + "\n").status == 0)
        let lines = readFile(program).split(separator: 0x0A).map { Array($0) + [0x0A] }
        // The writer: a line at a time through a pipe, a commit and a sync each, for as long as
        // the reads go on, so that its tail is being written all the while.
        var pipeEnds: [Int32] = [0, 0]
        pipe(&pipeEnds)
        let devNull = open("/dev/null", O_WRONLY)
        defer { close(devNull) }
        let pid = try #require(Run.spawn(["--data", data, "submit", "--batch", "1", "-"], stdin: pipeEnds[0], stdout: devNull, closing: [pipeEnds[1]]))
        close(pipeEnds[0])
        let stop = StopFlag()
        let feeder = pipeEnds[1]
        let fed = DispatchSemaphore(value: 0)
        DispatchQueue(label: "feeder").async {
            for line in lines where !stop.value.load(ordering: .relaxed) {
                _ = line.withUnsafeBytes { write(feeder, $0.baseAddress, $0.count) }
                usleep(10_000)
            }
            close(feeder)
            fed.signal()
        }
        var reads = 0, whileWriting = 0, failures: [String] = []
        let log = Ledger.logDirectory(data)
        while reads < 1000 {
            let writing = Log.writerIsActive(directory: log)
            do {
                // Mostly opens and scans of the tail (what `client` and `stats` begin with),
                // a whole verify and a view now and then.
                switch reads % 10 {
                case 0:
                    let report = try LogReader.verify(directory: log)
                    if report.tornTail != nil { failures.append("read \(reads): a torn tail reported beside a live writer") }
                case 5:
                    let view = try LedgerView(directory: data)
                    if view.loadReport?.tornTail != nil { failures.append("read \(reads): a view reported a torn tail beside a live writer") }
                default:
                    let reader = try LogReader(directory: log)
                    if reader.loadReport?.tornTail != nil { failures.append("read \(reads): a reader reported a torn tail beside a live writer") }
                    var count = 0
                    try reader.scan(from: reader.snapshot.endPosition > 200 ? reader.snapshot.endPosition - 200 : 0) { _ in count += 1; return true }
                }
            } catch {
                failures.append("read \(reads): \(error)")
            }
            if writing { whileWriting += 1 }
            reads += 1
        }
        stop.value.store(true, ordering: .relaxed)
        kill(pid, SIGKILL)  // a writer still going is stopped as a crash would stop it
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        fed.wait()
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(whileWriting >= 900, "the reads ran beside the writer (\(whileWriting) of them did)")
        #expect(Run(["--data", data, "verify"]).status == 0, "after the kill the log verifies (a torn tail at most)")
    }

    @Test("a torn tail is said by readers as the writer says it, verify exits 0 naming it, and verify leaves a missing index for the writer")
    func tornTailAndReadOnlyVerify() throws {
        let dir = TemporaryDirectory()
        _ = try Self.segmentedLedger(dir.path)
        let log = Ledger.logDirectory(dir.path)
        let segments = try SystemCalls.live.listDirectory(log).filter { $0.hasSuffix(".seg") }.sorted()
        // A torn write after the last batch: a whole header of a batch that runs past the end
        // of the file, as a crash leaves a write it cut short.
        let last = log + "/" + segments.last!
        let fd = open(last, O_RDWR)
        var size = stat()
        fstat(fd, &size)
        let reader = try LogReader(directory: log)
        let segment = reader.snapshot.segments.last!
        let end = segment.dataLength
        let header = BatchHeader(length: UInt32(UInt64(size.st_size) - end + 100), batchCRC: 0, codec: .none, eventCount: 1,
                                 basePosition: segment.endPosition, firstTimestamp: segment.lastTimestamp, lastTimestamp: segment.lastTimestamp,
                                 payloadLength: UInt32(UInt64(size.st_size) - end + 36), previousBatchCRC: segment.lastBatchCRC,
                                 committedPositionAtWrite: segment.endPosition)
        var bytes = [UInt8](repeating: 0, count: BatchHeader.byteCount)
        bytes.withUnsafeMutableBytes { header.encode(into: $0) }
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(end)) }
        close(fd)
        let firstIndex = log + "/" + String(segments.first!.dropLast(4)) + ".idx"
        unlink(firstIndex)
        let stats = Run(["--data", dir.path, "stats"])
        #expect(stats.status == 0 && stats.stderr.contains("torn tail"), "\(stats.stderr)")
        let verify = Run(["--data", dir.path, "verify", "--json"])
        #expect(verify.status == 0 && verify.stdout.contains("tornTail"), "\(verify.stdout) \(verify.stderr)")
        #expect(!SystemCalls.live.fileExists(firstIndex), "verify is read-only: the next writer rebuilds the index")
        _ = try Ledger(directory: dir.path)
        #expect(SystemCalls.live.fileExists(firstIndex))
    }

    @Test("human output escapes control characters and bidi overrides; the card says what it leaves out")
    func humanOutput() throws {
        let dir = TemporaryDirectory()
        var lines = [#"{"type":"client.registered","at":"2025-01-01","client":"c1","phone":"+79161234567","name":"Eve\u001b[31mRED\r\nFAKE\u202Eevil"}"#]
        for k in 0..<20 { lines.append(#"{"type":"bonus.accrued","at":"2025-01-02","client":"c1","amount":\#(k + 1)}"#) }
        #expect(Run(["--data", dir.path, "submit"], stdin: lines.joined(separator: "\n") + "\n").status == 0)
        let card = Run(["--data", dir.path, "client", "c1"])
        #expect(!card.stdout.contains("\u{1B}") && !card.stdout.contains("\r") && !card.stdout.contains("\u{202E}"), "\(card.stdout)")
        #expect(card.stdout.contains("\\u{1B}[31mRED\\r\\nFAKE\\u{202E}evil"))
        #expect(card.stdout.contains("8 more open lots"), "\(card.stdout)")
        let all = Run(["--data", dir.path, "client", "c1", "--all"])
        #expect(!all.stdout.contains("more open lots") && all.stdout.contains("#20"))
        let json = Run(["--data", dir.path, "client", "c1", "--json"])
        #expect(json.json?["name"] == .string("Eve\u{1B}[31mRED\r\nFAKE\u{202E}evil"), "JSON keeps the text exact")
        let journal = Run(["--data", dir.path, "journal", "--client", "c1", "--type", "client.registered"])
        #expect(journal.status == 0 && !journal.stdout.contains("\u{1B}") && journal.stdout.contains("\\u{1B}[31mRED"), "the journal escapes too: \(journal.stdout)")
        let bom = Run(["--data", dir.path, "submit", "--json"], stdin: "\u{FEFF}" + #"{"type":"note.added","client":"c1","text":"hi"}"# + "\n")
        #expect(bom.lines.first?["ok"] == .bool(true), "a byte order mark at the start is accepted: \(bom.stdout)")
        let empty = Run(["--data", "", "stats"])
        #expect(empty.status == 2 && empty.stderr.contains("--data"))
    }
}

final class StopFlag: Sendable {
    let value = Atomic<Bool>(false)
}

@Suite("The ledger command at a terminal")
struct TerminalTests {
    /// Runs `ledger` with its standard output and error on a pseudo-terminal, as a person at a
    /// terminal would; returns everything the terminal showed.
    static func onTerminal(_ arguments: [String], stdinFile: String) -> String {
        // /dev/ptmx gives a new pseudo-terminal: unlock its other side (TIOCSPTLCK, 0x40045431)
        // and find its number (TIOCGPTN, 0x80045430; Linux, whose macros Swift does not import).
        let master = open("/dev/ptmx", O_RDWR | O_NOCTTY)
        var unlock: Int32 = 0
        var number: UInt32 = 0
        guard master >= 0, ioctl(master, 0x4004_5431, &unlock) == 0, ioctl(master, 0x8004_5430, &number) == 0 else { return "" }
        let slave = open("/dev/pts/\(number)", O_RDWR | O_NOCTTY)
        let input = open(stdinFile, O_RDONLY)
        defer { close(master); close(input) }
        guard let pid = Run.spawn(arguments, stdin: input, stdout: slave, stderr: slave) else { return "" }
        close(slave)
        var shown: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if n <= 0 { break }  // EIO once the child has gone and closed its side
            shown += chunk[0..<n]
        }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return String(decoding: shown, as: UTF8.self)
    }

    @Test("human submit at a terminal shows the refused lines and a summary, not a line per accepted line")
    func submitAtTerminal() {
        let dir = TemporaryDirectory()
        var lines = [HardeningTests.register]
        for k in 0..<400 { lines.append(#"{"type":"bonus.accrued","at":"2025-01-02","client":"c1","amount":\#(k + 1)}"#) }
        lines.insert(#"{"type":"bonus.accrued","client":"c1","ammount":1}"#, at: 200)
        let file = dir.path + "/in.jsonl"
        writeFile(file, lines.joined(separator: "\n") + "\n")
        let shown = Self.onTerminal(["--data", dir.path + "/d", "submit", file], stdinFile: file)
        #expect(!shown.contains(": ok"), "no line per accepted line on a terminal: \(shown.prefix(300))")
        #expect(shown.contains("line 201: refused invalid_event"), "\(shown)")
        #expect(shown.contains("402 lines in") && shown.contains("401 accepted, 1 refused"), "\(shown)")
        // Through a pipe every line still gets its result.
        let piped = Run(["--data", dir.path + "/e", "submit", file])
        #expect(piped.stdout.split(separator: "\n").count == 402)
    }

    @Test("a rebuild at a terminal shows its progress (phase, bar, events) and then its report; through a pipe, no progress")
    func rebuildAtTerminal() {
        let dir = TemporaryDirectory()
        let file = dir.path + "/in.jsonl"
        writeFile(file, [HardeningTests.register, #"{"type":"bonus.accrued","at":"2025-01-02","client":"c1","amount":100}"#].joined(separator: "\n") + "\n")
        #expect(Run(["--data", dir.path + "/d", "submit", file]).status == 0)
        let shown = Self.onTerminal(["--data", dir.path + "/d", "rebuild"], stdinFile: file)
        #expect(shown.contains("comparing [##############################] 100%") && shown.contains(" events"), "\(shown)")
        #expect(shown.contains("no difference"), "\(shown)")
        let piped = Run(["--data", dir.path + "/d", "rebuild"])
        #expect(!piped.stderr.contains("[#") && piped.stdout.contains("no difference"), "\(piped.stderr)")
    }
}
