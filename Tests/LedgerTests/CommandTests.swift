import Glibc
import Testing
import LedgerDomain

/// Runs the built `ledger` binary as another service would: arguments, standard input, and
/// what it prints and exits with.
struct Run {
    var status: Int32
    var stdout: String
    var stderr: String

    var lines: [JSONValue] { stdout.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) } }
    var json: JSONValue? { lines.last }

    static let root = "/" + #filePath.split(separator: "/").dropLast(3).joined(separator: "/")
    static var binary: String { root + "/.build/debug/ledger" }

    init(_ arguments: [String], stdin: String = "") { self.init(arguments, stdinBytes: Array(stdin.utf8)) }

    /// Starts the built binary with `arguments`, its standard input and output on the given
    /// descriptors and its errors on `stderr` (/dev/null when nil), closing `closing` in the child (the parent's
    /// ends of its pipes). Returns its pid, or nil when it could not be started.
    static func spawn(_ arguments: [String], stdin: Int32, stdout: Int32, stderr: Int32? = nil, closing: [Int32] = []) -> pid_t? {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_adddup2(&actions, stdin, 0)
        posix_spawn_file_actions_adddup2(&actions, stdout, 1)
        if let stderr { posix_spawn_file_actions_adddup2(&actions, stderr, 2) } else { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
        for fd in closing { posix_spawn_file_actions_addclose(&actions, fd) }
        let argv: [UnsafeMutablePointer<CChar>?] = ([binary] + arguments).map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, binary, &actions, nil, argv, environ)
        posix_spawn_file_actions_destroy(&actions)
        for p in argv { free(p) }
        return spawned == 0 ? pid : nil
    }

    init(_ arguments: [String], stdinBytes: [UInt8]) {
        let dir = TemporaryDirectory()
        let input = dir.path + "/in", output = dir.path + "/out", errors = dir.path + "/err"
        writeFile(input, stdinBytes)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = ([Run.binary] + arguments).map { strdup($0) } + [nil]
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, Run.binary, &actions, nil, argv, environ)
        posix_spawn_file_actions_destroy(&actions)
        for p in argv { free(p) }
        guard spawned == 0 else {
            status = -1
            stdout = ""
            stderr = "cannot run \(Run.binary) (errno \(spawned)): build it first with `swift build --product ledger` (make test does)"
            return
        }
        var raw: Int32 = 0
        waitpid(pid, &raw, 0)
        status = (raw >> 8) & 0xFF
        stdout = String(decoding: readFile(output), as: UTF8.self)
        stderr = String(decoding: readFile(errors), as: UTF8.self)
    }
}

@Suite("The ledger command, end to end")
struct CommandTests {
    static let program = [
        #"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c1","phone":"8 (916) 123-45-67","name":"Анна","card":"2000001","place":"store-7"}"#,
        #"{"type":"purchase.made","at":"2025-01-02T12:00:00Z","client":"c1","purchase":"p1","total":120000,"paid":100000,"store":"store-7","items":[{"sku":"A1","name":"Кроссовки","category":"Обувь","qty":1,"price":120000}]}"#,
        #"{"type":"bonus.accrued","at":"2025-01-03T12:00:00Z","client":"c1","amount":2000,"reason":"manual","expiresAt":"2025-02-01","comment":"жалоба","key":"op-77"}"#,
        #"{"type":"bonus.written_off","at":"2025-01-03T13:00:00Z","client":"c1","amount":3000,"reason":"manual"}"#,
        #"{"type":"bonus.accrued","at":"2025-01-03T14:00:00Z","client":"c1","ammount":100}"#,
        "{not json",
        #"{"type":"bonus.accrued","at":"2025-01-03T15:00:00Z","client":"ghost","amount":100}"#,
        "",
        #"{"type":"bonus.accrued","at":"2025-01-03T12:00:00Z","client":"c1","amount":2000,"reason":"manual","expiresAt":"2025-02-01","comment":"жалоба","key":"op-77"}"#,
    ].joined(separator: "\n") + "\n"

    @Test("submit answers each line with its result, counts lines from 1, and exits 1 when some were refused")
    func submit() {
        let dir = TemporaryDirectory()
        let run = Run(["--data", dir.path, "submit", "--json"], stdin: Self.program)
        #expect(run.status == 1, "\(run.stderr)")
        let results = run.lines
        #expect(results.count == 9, "one result per line, the blank one too: \(run.stdout)")
        #expect(results[0]["line"] == .integer(1) && results[0]["ok"] == .bool(true) && results[0]["positions"] == .array([.integer(0)]))
        #expect(results[1]["positions"] == .array([.integer(1), .integer(2), .integer(3)]), "purchase, its level, its accrual")
        #expect(results[3]["error"] == .string("insufficient_balance"))
        #expect(results[4]["error"] == .string("invalid_event") && results[4]["line"] == .integer(5))
        if case .string(let message)? = results[4]["message"] { #expect(message.contains("line 5") && message.contains("ammount")) }
        #expect(results[5]["error"] == .string("invalid_event") && results[5]["line"] == .integer(6))
        #expect(results[6]["error"] == .string("unknown_client"))
        #expect(results[7]["line"] == .integer(8) && results[7]["blank"] == .bool(true) && results[7]["positions"] == .array([]), "a blank line is answered, nothing appended")
        #expect(results[8]["line"] == .integer(9) && results[8]["ok"] == .bool(true) && results[8]["positions"] == results[2]["positions"], "a repeated key answers the original")
    }

    @Test("submit reads raw lines: CRLF endings, a last line without a break; a line too long, one not UTF-8 and one with a NUL are refused by line")
    func submitRawLines() {
        let dir = TemporaryDirectory()
        var input = Array(#"{"type":"client.registered","client":"c1","phone":"89161234567"}"#.utf8) + [0x0D, 0x0A]
        input += Array((#"{"type":"note.added","client":"c1","text":""# + String(repeating: "я", count: 20_000) + #""}"#).utf8) + [0x0A]
        input += Array(#"{"type":"note.added","client":"c1","text":""#.utf8) + [0x41, 0xFF, 0x42] + Array(#""}"#.utf8) + [0x0A]
        input += Array(#"{"type":"note.added","client":"c1","text":"a"#.utf8) + [0x00] + Array(#"b"}"#.utf8) + [0x0A]
        input += Array(#"{"type":"note.added","client":"c1","text":"последняя"}"#.utf8)
        let run = Run(["--data", dir.path, "submit", "--json"], stdinBytes: input)
        #expect(run.status == 1, "\(run.stderr)")
        let results = run.lines
        #expect(results.count == 5, "\(run.stdout)")
        guard results.count == 5 else { return }
        #expect(results[0]["ok"] == .bool(true))
        #expect(results[1]["error"] == .string("invalid_event") && results[1]["message"] == .string("line 2: the line is longer than 32768 bytes"))
        #expect(results[2]["message"] == .string("line 3: the line is not valid UTF-8 (byte 45)"))
        #expect(results[3]["line"] == .integer(4) && results[3]["error"] == .string("invalid_event"))
        if case .string(let message)? = results[3]["message"] { #expect(message.contains("control character")) }
        #expect(results[4]["line"] == .integer(5) && results[4]["ok"] == .bool(true) && results[4]["positions"] == .array([.integer(1)]))
    }

    @Test("a caller that writes a line through a pipe and waits gets its answer before writing the next")
    func submitAnswersEachLineAsItArrives() {
        let dir = TemporaryDirectory()
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0]
        #expect(pipe(&toChild) == 0 && pipe(&fromChild) == 0)
        let spawned = Run.spawn(["--data", dir.path, "submit", "--json"], stdin: toChild[0], stdout: fromChild[1], closing: toChild + fromChild)
        close(toChild[0])
        close(fromChild[1])
        guard let pid = spawned else { Issue.record("cannot run \(Run.binary)"); return }
        let lines = [#"{"type":"client.registered","client":"c1","phone":"89161234567"}"#,
                     #"{"type":"bonus.accrued","client":"c1","amount":100}"#, "{bad"]
        var answers: [String] = []
        for line in lines {
            _ = Array((line + "\n").utf8).withUnsafeBytes { write(toChild[1], $0.baseAddress, $0.count) }
            // The answer must come while the input is still open (10 s is a generous bound).
            var answer: [UInt8] = []
            while answer.last != 0x0A {
                var request = pollfd(fd: fromChild[0], events: Int16(POLLIN), revents: 0)
                guard poll(&request, 1, 10_000) == 1 else { break }
                var byte: UInt8 = 0
                guard read(fromChild[0], &byte, 1) == 1 else { break }
                answer.append(byte)
            }
            answers.append(String(decoding: answer, as: UTF8.self))
        }
        close(toChild[1])
        var raw: Int32 = 0
        waitpid(pid, &raw, 0)
        close(fromChild[0])
        #expect(answers == [#"{"line":1,"ok":true,"positions":[0]}"# + "\n", #"{"line":2,"ok":true,"positions":[1]}"# + "\n",
                            #"{"line":3,"ok":false,"error":"invalid_event","message":"line 3: bad JSON at byte 2: expected a quoted key"}"# + "\n"])
        #expect((raw >> 8) & 0xFF == 1)
    }

    @Test("client shows the card by id, by phone in another format, and by card; an unknown one exits 1")
    func client() {
        let dir = TemporaryDirectory()
        _ = Run(["--data", dir.path, "submit"], stdin: Self.program)
        let byID = Run(["--data", dir.path, "client", "c1", "--json"])
        #expect(byID.status == 0, "\(byID.stderr)")
        let card = byID.json
        for field in ["client", "displayName", "status", "phone", "cards", "level", "balances", "stats", "segments"] {
            #expect(card?[field] != nil, "the card has \(field)")
        }
        for field in ["available", "pending", "reserved", "used", "expired", "accrued"] { #expect(card?["balances"]?[field] != nil) }
        for field in ["purchaseCount", "purchaseSum", "returnCount", "returnSum", "averageCheck", "maxCheck", "firstPurchaseAt", "lastPurchaseAt"] {
            #expect(card?["stats"]?[field] != nil)
        }
        #expect(card?["balances"]?["pending"] == .integer(5000) && card?["balances"]?["available"] == .integer(2000))
        #expect(card?["displayName"] == .string("Анна") && card?["phone"] == .string("+79161234567"))
        #expect(Run(["--data", dir.path, "client", "--phone", "+7 916 123 45 67", "--json"]).json?["client"] == .string("c1"))
        #expect(Run(["--data", dir.path, "client", "--card", "2000001", "--json"]).json?["client"] == .string("c1"))
        let table = Run(["--data", dir.path, "client", "c1"])
        #expect(table.stdout.contains("Анна") && table.stdout.contains("50,00") && table.stdout.contains("+7 (916) 123-45-67"))
        // As it was: before the first event, c1 did not exist; at position 1 it had no bonus yet.
        #expect(Run(["--data", dir.path, "client", "c1", "--at-position", "0"]).status == 1)
        #expect(Run(["--data", dir.path, "client", "c1", "--at-position", "1", "--json"]).json?["balances"]?["accrued"] == .integer(0))
        #expect(Run(["--data", dir.path, "client", "c1", "--as-of", "2099-01-01", "--json"]).json?["balances"] == card?["balances"])
        #expect(Run(["--data", dir.path, "client", "c1", "--as-of", "soon"]).status == 2)
        let missing = Run(["--data", dir.path, "client", "nobody", "--json"])
        #expect(missing.status == 1 && missing.json?["error"] == .string("unknown_client"))
    }

    @Test("journal answers interface.md's filters with its row fields, pages with --cursor, and names a bad filter (exit 1; a malformed option 2)")
    func journal() {
        let dir = TemporaryDirectory()
        _ = Run(["--data", dir.path, "submit"], stdin: Self.program)
        let run = Run(["--data", dir.path, "journal", "--phone", "8 (916) 123-45-67", "--category", "bonuses", "--category", "purchases", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        guard case .array(let rows)? = run.json?["rows"], let first = rows.first else { Issue.record("no rows: \(run.stdout)"); return }
        for field in ["position", "at", "client", "displayName", "type", "category", "description", "details"] { #expect(first[field] != nil, "a row has \(field)") }
        #expect(rows.allSatisfy { $0["category"] == .string("bonuses") || $0["category"] == .string("purchases") })
        #expect(run.json?["next"] == .null)
        let positions = rows.compactMap { if case .integer(let p)? = $0["position"] { p } else { nil } }
        #expect(positions == positions.sorted(by: >), "newest first")
        // Two rows a page, oldest first, following the cursor: the same rows in the other order.
        var paged: [Int64] = []
        var cursor: String? = nil
        repeat {
            let page = Run(["--data", dir.path, "journal", "--phone", "8 (916) 123-45-67", "--category", "bonuses", "--category", "purchases",
                            "--order", "asc", "--limit", "2", "--json"] + (cursor.map { ["--cursor", $0] } ?? []))
            if case .array(let rows)? = page.json?["rows"] { paged += rows.compactMap { if case .integer(let p)? = $0["position"] { p } else { nil } } }
            if case .string(let next)? = page.json?["next"] { cursor = next } else { cursor = nil }
        } while cursor != nil && paged.count < 100
        #expect(paged == positions.reversed())
        let english = Run(["--data", dir.path, "journal", "--client", "c1", "--type", "bonus.accrued", "--lang", "en"])
        #expect(english.stdout.contains("bonuses accrued"), "\(english.stdout)")
        let bad = Run(["--data", dir.path, "journal", "--type", "bonus.acrued", "--json"])
        #expect(bad.status == 1 && bad.json?["error"] == .string("invalid_event") && bad.stderr.contains("bonus.acrued"), "\(bad.stderr)")
        #expect(Run(["--data", dir.path, "journal", "--category", "bonus"]).status == 2)
        // The audit replay: interface.md's fields, the final balances the card's.
        let replay = Run(["--data", dir.path, "replay", "--client", "c1", "--json"])
        #expect(replay.status == 0 && replay.json?["client"] == .string("c1"), "\(replay.stderr)")
        guard case .array(let steps)? = replay.json?["steps"], let step = steps.first else { Issue.record("no steps: \(replay.stdout)"); return }
        for field in ["position", "at", "type", "balances", "lots", "note"] { #expect(step[field] != nil, "a step has \(field)") }
        #expect(replay.json?["balances"] == Run(["--data", dir.path, "client", "c1", "--json"]).json?["balances"])
        #expect(Run(["--data", dir.path, "replay", "--client", "nobody"]).status == 1)
        // A dry run prints what a line would record and appends nothing.
        let events = Run(["--data", dir.path, "stats", "--json"]).json?["events"]
        let dry = Run(["--data", dir.path, "submit", "--dry-run", "--json"], stdin: #"{"type":"bonus.written_off","client":"c1","amount":1000}"# + "\n")
        #expect(dry.status == 0 && dry.json?["dryRun"] == .bool(true) && dry.json?["events"] != nil, "\(dry.stdout) \(dry.stderr)")
        #expect(Run(["--data", dir.path, "stats", "--json"]).json?["events"] == events)
        #expect(Run(["--data", dir.path, "journal", "--from", "yesterday"]).status == 2)
    }

    @Test("advance activates what is due and a second run appends nothing")
    func advance() {
        let dir = TemporaryDirectory()
        _ = Run(["--data", dir.path, "submit"], stdin: Self.program)
        let first = Run(["--data", dir.path, "advance", "--to", "2025-02-01T00:00:00Z", "--json"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.json?["activated"] == .integer(1) && first.json?["expired"] == .integer(1))
        let second = Run(["--data", dir.path, "advance", "--to", "2025-02-01T00:00:00Z", "--json"])
        #expect(second.json?["activated"] == .integer(0) && second.json?["positions"] == .array([]))
        #expect(Run(["--data", dir.path, "client", "c1", "--json"]).json?["balances"]?["available"] == .integer(5000))
    }

    @Test("advance gives birthday bonuses and journals the ones it refuses")
    func advanceBirthdays() {
        let dir = TemporaryDirectory()
        let lines = [#"{"type":"rules.changed","at":"2025-01-01T00:00:00Z","rules":{"birthdayBonus":30000}}"#,
                     #"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c1","phone":"79160000001","birthday":"1990-01-10"}"#,
                     #"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c2","phone":"79160000002","birthday":"1985-01-10"}"#,
                     #"{"type":"client.blocked","at":"2025-01-02T09:00:00Z","client":"c2"}"#]
        #expect(Run(["--data", dir.path, "submit"], stdin: lines.joined(separator: "\n") + "\n").status == 0)
        let run = Run(["--data", dir.path, "advance", "--to", "2025-01-11", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.json?["birthdayBonuses"] == .integer(1) && run.json?["birthdaysRefused"] == .integer(1))
        #expect(run.json?["positions"] == .array([.integer(4), .integer(5)]))
        let text = Run(["--data", dir.path, "advance", "--to", "2025-01-12"])
        #expect(text.stdout.contains("0 birthday bonus(es), 0 refused"), "\(text.stdout)")
        #expect(Run(["--data", dir.path, "stats", "--json"]).json?["perType"]?["operation.refused"] == .integer(1))
    }

    @Test("stats counts events, clients and types")
    func stats() {
        let dir = TemporaryDirectory()
        _ = Run(["--data", dir.path, "submit"], stdin: Self.program)
        let run = Run(["--data", dir.path, "stats", "--json"])
        #expect(run.status == 0)
        #expect(run.json?["events"] == .integer(6) && run.json?["clients"] == .integer(1))
        #expect(run.json?["perType"]?["bonus.accrued"] == .integer(2))
        #expect(run.json?["perType"]?["operation.refused"] == .integer(1))
        // How long the rebuild took and the process's resident peak, for whoever sizes a machine.
        if case .number(let seconds)? = run.json?["rebuildSeconds"] { #expect(seconds >= 0) } else if case .integer(let seconds)? = run.json?["rebuildSeconds"] {
            #expect(seconds >= 0)
        } else { Issue.record("rebuildSeconds is missing or not a number") }
        if case .integer(let peak)? = run.json?["residentPeakBytes"] { #expect(peak > 1_000_000) } else { Issue.record("residentPeakBytes is missing") }
    }

    @Test("verify passes on a whole log and exits 2 naming the file and byte offset of damage")
    func verify() {
        let dir = TemporaryDirectory()
        _ = Run(["--data", dir.path, "submit"], stdin: Self.program)
        let ok = Run(["--data", dir.path, "verify", "--json"])
        #expect(ok.status == 0 && ok.json?["ok"] == .bool(true) && ok.json?["events"] == .integer(6))
        let segment = dir.path + "/log/00000000000000000000.seg"
        var bytes = readFile(segment)
        bytes[100] ^= 0x01
        let fd = open(segment, O_WRONLY)
        _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        close(fd)
        let bad = Run(["--data", dir.path, "verify", "--json"])
        #expect(bad.status == 2)
        #expect(bad.json?["file"] == .string(segment) && bad.json?["offset"] != nil)
        #expect(bad.stderr.contains("byte offset"))
        let open = Run(["--data", dir.path, "submit"], stdin: "")
        #expect(open.status == 2 && open.stderr.contains("00000000000000000000.seg") && open.stderr.contains("not a torn write"),
                "a damaged log is refused by the writer too: \(open.stderr)")
    }

    @Test("snapshot writes the state, stats and client open from it, verify --deep proves it, and a damaged one is named by verify and passed over by readers")
    func snapshotVerb() {
        let dir = TemporaryDirectory()
        _ = Run(["--data", dir.path, "submit"], stdin: Self.program)
        let written = Run(["--data", dir.path, "snapshot", "--json"])
        #expect(written.status == 0 && written.json?["written"] == .bool(true) && written.json?["position"] == .integer(6), "\(written.stdout)\(written.stderr)")
        guard case .string(let path)? = written.json?["path"] else { Issue.record("no path: \(written.stdout)"); return }
        #expect(Run(["--data", dir.path, "snapshot", "--json"]).json?["written"] == .bool(false), "nothing new: nothing written")
        let stats = Run(["--data", dir.path, "stats", "--json"])
        #expect(stats.json?["snapshotPosition"] == .integer(6) && stats.json?["events"] == .integer(6))
        let deep = Run(["--data", dir.path, "verify", "--deep"])
        #expect(deep.status == 0 && deep.stdout.contains("equals a replay"), "\(deep.stdout)\(deep.stderr)")
        var bytes = readFile(path)
        // A byte of the zero padding between the section directory and the first section (at 4096).
        bytes[4000] ^= 0x40
        writeFile(path, bytes)
        let bad = Run(["--data", dir.path, "verify", "--json"])
        #expect(bad.status == 2 && bad.json?["error"] == .string("snapshot_damaged") && bad.json?["file"] == .string(path), "\(bad.stdout)")
        let card = Run(["--data", dir.path, "client", "c1", "--json"])
        #expect(card.status == 0 && card.stderr.contains("passed over") && card.stderr.contains("padding"), "\(card.stderr)")
        #expect(card.json?["client"] == .string("c1"))
    }

    @Test("usage errors exit 2")
    func usage() {
        #expect(Run(["client"]).status == 2)
        #expect(Run(["advance", "--to", "someday"]).status == 2)
        #expect(Run(["no-such-verb"]).status == 2)
    }
}
