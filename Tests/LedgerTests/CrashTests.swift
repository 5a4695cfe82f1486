import Glibc
import Testing
@testable import Ledger
import LedgerDomain
import LedgerGenerator
import LedgerLog

/// `ledger submit` killed with SIGKILL at random instants, as a crash of the service would
/// stop it: every result line it printed as `ok` must still be true after a reopen, and a
/// caller that resubmits everything gets each done command's original answer.
///
/// A kill leaves the page cache alone, so this checks recovery, idempotency across crashes
/// and that nothing lands twice; that a result waits for the sync itself is checked with a
/// failing fdatasync in LedgerTests ("begun submits finish in order…").
@Suite("The ledger command, killed mid-submit")
struct CrashTests {
    /// Keyed commands, so that a resubmission of the whole input after a crash answers what
    /// was done with its original positions and does the rest: 40 registrations, then
    /// accruals and purchases (whose derived events must land with them or not at all).
    static func program(lines count: Int) -> [String] {
        var lines: [String] = []
        for c in 1...40 {
            lines.append(#"{"type":"client.registered","client":"c\#(c)","phone":"+7 916 000 \#(1000 + c)","key":"reg-\#(c)"}"#)
        }
        var random = SeededRandom(state: 42)
        while lines.count < count {
            let n = lines.count
            let client = "c\(1 + Int(random.next() % 40))"
            if random.next() % 3 == 0 {
                let paid = 1000 + Int(random.next() % 90_000)
                lines.append(#"{"type":"purchase.made","client":"\#(client)","purchase":"p\#(n)","total":\#(paid),"paid":\#(paid),"store":"s1","items":[{"sku":"A\#(n % 7)","qty":1,"price":\#(paid)}],"key":"buy-\#(n)"}"#)
            } else {
                lines.append(#"{"type":"bonus.accrued","client":"\#(client)","amount":\#(1 + random.next() % 5000),"reason":"manual","key":"acc-\#(n)"}"#)
            }
        }
        return lines
    }

    /// What a run printed before it ended: each whole result line's line number and
    /// positions (a refusal fails the test: this input has none).
    struct Printed {
        var positions: [Int: [Int64]] = [:]
        var wholeLines = 0
    }

    /// Runs `ledger submit`, writing `lines` to it as a caller with a window of lines in
    /// flight would (so that it answers in many small batches), and kills it once it has
    /// printed `killAt` results (never, when nil). Returns what it printed and its wait status.
    static func submit(data: String, lines: [String], window: Int, killAt: Int?) -> (Printed, Int32) {
        // A socket, not a pipe, for its input: a write after the kill fails with EPIPE
        // instead of raising SIGPIPE in the test process.
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &toChild) == 0 && pipe(&fromChild) == 0)
        let spawned = Run.spawn(["--data", data, "submit", "--json"], stdin: toChild[1], stdout: fromChild[1], closing: toChild + fromChild)
        close(toChild[1])
        close(fromChild[1])
        guard let pid = spawned else { preconditionFailure("cannot run \(Run.binary): build it first (make test does)") }
        var input: Int32 = toChild[0]
        var output: [UInt8] = []
        var sent = 0, answered = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            if let killAt, answered >= killAt {
                kill(pid, SIGKILL)
                break
            }
            if input >= 0 && sent == lines.count {
                shutdown(input, Int32(SHUT_WR))
                close(input)
                input = -1
            }
            // The next lines go once the answers have caught up to within the window.
            if input >= 0 && sent - answered < window {
                let upTo = min(lines.count, answered + window)
                let bytes = Array(lines[sent..<upTo].joined(separator: "\n").utf8) + [0x0A]
                let written = bytes.withUnsafeBytes { send(input, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                if written != bytes.count { break }
                sent = upTo
                continue
            }
            let n = chunk.withUnsafeMutableBytes { read(fromChild[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            output += chunk[0..<n]
            answered += chunk[0..<n].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        // What it printed before it died is in the pipe: read it to the end.
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fromChild[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            output += chunk[0..<n]
        }
        if input >= 0 { close(input) }
        close(fromChild[0])
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        var printed = Printed()
        // A line the kill cut short was never printed whole: it acknowledges nothing.
        for line in output.split(separator: 0x0A, omittingEmptySubsequences: false).dropLast() {
            let value = try! JSONParser.parse(String(decoding: line, as: UTF8.self))
            guard case .integer(let number)? = value["line"] else { Issue.record("a result without a line: \(value)"); continue }
            guard value["ok"] == .bool(true), case .array(let items)? = value["positions"] else {
                Issue.record("line \(number) was refused: \(value)")
                continue
            }
            printed.positions[Int(number)] = items.compactMap { if case .integer(let p) = $0 { p } else { nil } }
            printed.wholeLines += 1
        }
        return (printed, status)
    }

    @Test("every ok printed before a SIGKILL is in the reopened log, a resubmission repeats it, and nothing lands twice")
    func killedSubmitsLoseNothing() throws {
        let lines = Self.program(lines: 4000)
        let dir = TemporaryDirectory()
        var acknowledged: [Int: [Int64]] = [:]
        var random = SeededRandom(state: 7)
        var kills = 0
        let rounds = 12 * soak
        for round in 0...rounds {
            // Each round resubmits the whole input, killed after a random count of answers;
            // the last runs to its end.
            let killAt: Int? = round < rounds ? random.below(lines.count) : nil
            let window = 1 << random.below(11)  // 1 to 1024 lines in flight
            let (printed, status) = Self.submit(data: dir.path, lines: lines, window: window, killAt: killAt)
            if killAt != nil && (status & 0x7F) == SIGKILL { kills += 1 }
            for (line, positions) in printed.positions {
                if let earlier = acknowledged[line] {
                    #expect(earlier == positions, "line \(line) answered \(positions) after answering \(earlier) before a crash")
                }
                acknowledged[line] = positions
            }
            // Reopened (which recovers whatever the kill left), the log holds every
            // acknowledged event: the first under its line's key, each with its client.
            let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
            var records: [Int64: (key: String?, client: String)] = [:]
            try ledger.logReader().scan { record in
                records[Int64(record.position)] = (record.idempotencyKeyString, record.streamKeyString)
                return true
            }
            for (line, positions) in acknowledged {
                let text = lines[line - 1]
                for (k, position) in positions.enumerated() {
                    guard let record = records[position] else {
                        Issue.record("round \(round): line \(line) was acknowledged at \(positions), but \(position) is not in the reopened log")
                        break
                    }
                    if k == 0, let key = record.key { #expect(text.contains(#""key":"\#(key)""#), "line \(line)'s first event carries key \(key)") }
                    if k == 0 && record.key == nil { Issue.record("line \(line)'s first event has no key") }
                    #expect(text.contains(#""client":"\#(record.client)""#), "line \(line)'s event \(position) is of client \(record.client)")
                }
            }
            try ledger.close()
        }
        #expect(kills >= 10 * soak, "at least ten real kills mid-submit (\(kills) of \(rounds) rounds)")
        // The last round ran to its end: every line acknowledged, each once.
        #expect(acknowledged.count == lines.count)
        let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        let events = acknowledged.values.reduce(0) { $0 + $1.count }
        #expect(ledger.stats().events == UInt64(events), "the log holds exactly the acknowledged events: none twice, none extra")
        #expect(Set(acknowledged.values.flatMap { $0 }).count == events)
        try ledger.close()
        let verified = Run(["--data", dir.path, "verify", "--json"])
        #expect(verified.status == 0 && verified.json?["ok"] == .bool(true), "\(verified.stdout) \(verified.stderr)")
    }
}
