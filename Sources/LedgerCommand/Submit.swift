import LedgerSync
import ArgumentParser
import Glibc
import Ledger
import LedgerDomain

struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append JSON Lines events, each checked; a line's result is printed only once its events are durable.")

    @OptionGroup var common: CommonOptions

    @Argument(help: "A file of JSON Lines, or - (the default) for standard input.")
    var file: String = "-"

    @Option(name: .long, help: "Lines checked and appended together (one durable commit).")
    var batch: Int = 1000

    @OptionGroup var tolerance: FutureToleranceOption

    @Flag(name: .long, help: "Decide the lines against the current state and print what each would record (its events, the lots they take, the debt they leave), appending nothing. Takes no lock: it runs beside a running writer.")
    var dryRun = false

    static let lineBytesMax = 32 * 1024

    func run() throws {
        guard batch >= 1 && batch <= 50_000 else { throw ValidationError("--batch must be 1 to 50000") }
        let input = file == "-" ? 0 : open(file, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else {
            throw failure(LineReaderError(message: "cannot open \(file): \(String(cString: strerror(errno)))"), json: common.json, verb: "submit")
        }
        defer { if file != "-" { close(input) } }
        if dryRun { return try runDry(input) }
        var options = Ledger.Configuration()
        options.futureTolerance = try tolerance.micros()
        let ledger = try openLedger(common, verb: "submit", options: options)
        defer { try? ledger.close() }
        // A person at a terminal gets a progress bar, the refused lines and a summary; a pipe
        // or --json gets a result line for every input line, as the contract says.
        let forPerson = !common.json && isatty(1) != 0
        let totalBytes = Self.fileSize(input)
        let progress = Progress(enabled: isatty(2) != 0, totalBytes: totalBytes)
        var counts = Counts()
        var output = OutputBytes()  // a batch's result lines, written at once when its events are durable
        // Lines are read and parsed on a thread of their own, a batch or two ahead: while one
        // batch is checked, appended and made durable, the next is being parsed.
        let parser = BatchParser(LineReader(input, lineBytesMax: Self.lineBytesMax), batch: batch)
        defer { parser.stop() }
        // While the log makes one batch durable, the next is checked: a batch's results are
        // written once its own events are durable.
        var inFlight: InFlight? = nil
        func finishBatch(_ done: InFlight) throws {
            try finish(done, ledger: ledger, forPerson: forPerson, progress: progress, counts: &counts, output: &output)
        }
        while true {
            // A batch in flight is finished before waiting for input: a caller that writes
            // a line and waits for its answer must get it.
            var next = parser.poll()
            if next == nil {
                if let previous = inFlight { try finishBatch(previous) }
                inFlight = nil
                next = .some(parser.next())
            }
            guard let pending = next! else { break }
            let begun: Ledger.PendingSubmit
            do { begun = try ledger.beginSubmit(pending.commands) } catch { throw failure(error, json: common.json, verb: "submit") }
            if let previous = inFlight { try finishBatch(previous) }
            inFlight = (pending, begun)
        }
        if let last = inFlight { try finishBatch(last) }
        if let error = parser.readError {
            throw failure(LineReaderError(message: "cannot read \(file): \(error)"), json: common.json, verb: "submit")
        }
        progress.finish()
        let (accepted, refused, blank) = (counts.accepted, counts.refused, counts.blank)
        if !common.json {
            let seconds = seconds(since: progress.started)
            let rate = seconds > 0 ? ", \(grouped(Int(Double(parser.lines) / seconds))) lines/s" : ""
            printError("ledger submit: \(grouped(parser.lines)) lines in \(format2(seconds)) s\(rate): \(grouped(accepted)) accepted, \(grouped(refused)) refused\(blank > 0 ? ", \(grouped(blank)) blank" : ""); durable at position \(grouped(ledger.stats().events))" + (forPerson && refused > 0 ? " (the refused lines are above; --json or a pipe gives every line's result)" : ""))
        }
        if refused > 0 { throw ExitCode(ExitStatus.refused) }
    }

    /// What the lines came to so far.
    struct Counts { var refused = 0, accepted = 0, blank = 0 }
    typealias InFlight = (batch: BatchParser.Batch, submit: Ledger.PendingSubmit)

    /// Waits for a batch's events to be durable, then writes its lines' results.
    private func finish(_ done: InFlight, ledger: Ledger, forPerson: Bool, progress: Progress, counts: inout Counts,
                        output: inout OutputBytes) throws {
        let outcomes: [Outcome]
        do { outcomes = try ledger.finish(done.submit) } catch { throw failure(error, json: common.json, verb: "submit") }
        let pending = done.batch
        var next = 0
        for line in pending.lines {
            switch line.kind {
            case .invalid(let error):
                counts.refused += 1
                report(line: line.number, .refused(RefusalReason(error), message: error.description, recorded: nil), into: &output)
            case .blank:
                counts.blank += 1
                if !forPerson { reportBlank(line: line.number, into: &output) }
            case .command:
                let outcome = outcomes[next]
                next += 1
                if outcome.isAccepted { counts.accepted += 1 } else { counts.refused += 1 }
                if !forPerson || !outcome.isAccepted { report(line: line.number, outcome, into: &output) }
            }
        }
        if !output.isEmpty { progress.clear() }
        output.write()
        progress.update(lines: pending.lastLine, refused: counts.refused, bytes: pending.bytesRead)
    }

    /// A refusal's message as JSON gives it, naming its line as the parser's do ("line N: field
    /// 'amount': …"), and its words without that prefix (a person's line names it already).
    static func lineMessage(_ line: Int, _ message: String) -> (json: String, words: String) {
        let prefix = "line \(line): "
        let words = message.hasPrefix(prefix) ? String(message.dropFirst(prefix.count)) : message
        return (prefix + words, words)
    }

    /// The size of a regular file being read (for the time left), or nil (a pipe, a terminal).
    static func fileSize(_ descriptor: Int32) -> Int? {
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size > 0 else { return nil }
        return Int(info.st_size)
    }

    /// A blank line (nothing but spaces and tabs) appends nothing; it is answered, so that a
    /// caller gets one result line for each input line: `{"line":N,"ok":true,"positions":[],"blank":true}`.
    func reportBlank(line: Int, into out: inout OutputBytes) {
        if common.json {
            out.append("{\"line\":")
            out.append(UInt64(line))
            out.append(",\"ok\":true,\"positions\":[],\"blank\":true}\n")
        } else {
            out.append("line \(line): blank, nothing appended\n")
        }
    }

    /// Appends a line's result (with its line break) to `out`.
    func report(line: Int, _ outcome: Outcome, into out: inout OutputBytes) {
        switch outcome {
        case .accepted(let range):
            // The common case, written directly.
            if common.json {
                out.append("{\"line\":")
                out.append(UInt64(line))
                out.append(",\"ok\":true,\"positions\":[")
                for position in range {
                    if position != range.lowerBound { out.append(",") }
                    out.append(position)
                }
                out.append("]}\n")
            } else {
                out.append("line ")
                out.append(UInt64(line))
                out.append(range.count > 1 ? ": ok, positions " : ": ok, position ")
                out.append(range.lowerBound)
                if range.count > 1 {
                    out.append("–")
                    out.append(range.upperBound)
                }
                out.append("\n")
            }
        case .repeated(.accepted(let range)):
            if common.json {
                out.append(JSON.object([("line", .int(Int64(line))), ("ok", .bool(true)), ("positions", .array(range.map { .uint($0) })), ("repeated", .bool(true))]).rendered + "\n")
            } else {
                out.append("line \(line): ok (a repeat: nothing appended), positions \(range.lowerBound)–\(range.upperBound)\n")
            }
        case .refused(let reason, let message, let recorded):
            let code = reason.code.rawValue
            let (message, words) = Self.lineMessage(line, message)
            if common.json {
                var fields: [(String, JSON)] = [("line", .int(Int64(line))), ("ok", .bool(false)), ("error", .string(code)), ("message", .string(message))]
                if let recorded { fields.append(("recorded", .uint(recorded))) }
                out.append(JSON.object(fields).rendered + "\n")
            } else {
                out.append("line \(line): refused \(code): \(Printable.escaped(words))\(recorded.map { " (journaled at position \($0))" } ?? "")\n")
            }
        case .repeated(.refused(let code, let message)):
            let (message, words) = Self.lineMessage(line, message)
            if common.json {
                out.append(JSON.object([("line", .int(Int64(line))), ("ok", .bool(false)), ("error", .string(code)), ("message", .string(message)), ("repeated", .bool(true))]).rendered + "\n")
            } else {
                out.append("line \(line): refused \(code) (a repeat): \(Printable.escaped(words))\n")
            }
        }
    }
}

/// What one input line of a submit is.
enum LineKind {
    case command
    case invalid(InvalidInput)
    /// Nothing but spaces and tabs: answered, nothing appended.
    case blank
}

/// Reads and parses the lines of a submit in batches on a thread of its own (a ``Handoff``),
/// at most two batches ahead of the caller. A batch holds `batch` lines that are not blank,
/// each with its line number and its command or why it is refused; a partial batch is handed
/// over whenever more input would have to be waited for.
final class BatchParser: Sendable {
    struct Batch {
        /// The commands of the lines that parsed, in order.
        var commands: [Command] = []
        /// Each line, in order: its number and what it is (a command, in `commands`; why it
        /// did not parse; or blank).
        var lines: [(number: Int, kind: LineKind)] = []
        /// The number of the batch's last line read (blank ones count).
        var lastLine = 0
        /// Bytes of input read through the batch's last line (for the time left).
        var bytesRead = 0
    }

    /// What the producer found at the end: lines read, and why reading stopped if early.
    private final class End: Sendable {
        let state = Lock<(lines: Int, readError: String?)>((0, nil))
    }

    private let handoff: Handoff<Batch>
    private let end = End()

    init(_ reader: LineReader, batch: Int) {
        nonisolated(unsafe) let reader = reader  // used by the producing thread alone from here on
        let end = self.end
        handoff = Handoff { hand in
            var current = Batch()
            var lineNumber = 0
            defer { end.state.withLock { $0 = (lineNumber, reader.error) } }
            while true {
                if !current.lines.isEmpty && reader.wouldWait {
                    guard hand(current) else { return }
                    current = Batch()
                    current.lastLine = lineNumber
                }
                guard let line = reader.next() else { break }
                lineNumber += 1
                current.lastLine = lineNumber
                switch line {
                case .tooLong:
                    current.lines.append((lineNumber, .invalid(InvalidInput(line: lineNumber, field: nil, reason: "the line is longer than \(reader.lineBytesMax) bytes"))))
                case .bytes(var bytes):
                    // A UTF-8 byte order mark at the start of the input is not part of the line.
                    if lineNumber == 1, bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF {
                        bytes = UnsafeBufferPointer(rebasing: bytes[3...])
                    }
                    if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                        current.lines.append((lineNumber, .blank))
                    } else {
                        do throws(InvalidInput) {
                            current.commands.append(try CommandParser.parse(utf8: bytes, number: lineNumber))
                            current.lines.append((lineNumber, .command))
                        } catch {
                            current.lines.append((lineNumber, .invalid(error)))
                        }
                    }
                }
                current.bytesRead = reader.consumed
                if current.lines.count >= batch {
                    guard hand(current) else { return }
                    current = Batch()
                    current.lastLine = lineNumber
                }
            }
            if !current.lines.isEmpty { _ = hand(current) }
        }
    }

    /// The next batch, or nil once every line was handed out.
    func next() -> Batch? { handoff.next() }

    /// The next batch if one is parsed already: nil when none is yet, `.some(nil)` at the end.
    func poll() -> Batch?? { handoff.poll() }

    /// Why reading stopped early (read it once ``next()`` gave nil).
    var readError: String? { end.state.withLock { $0.readError } }
    /// Lines read (blank ones included; read it once ``next()`` gave nil).
    var lines: Int { end.state.withLock { $0.lines } }

    /// Stops reading and waits until the thread is done with the file. Call it once.
    func stop() { handoff.stop() }
}

/// Lines of a file, read a large block at a time: each line is handed out in place (without
/// its line break, or a carriage return before it), valid until the next call. A line longer
/// than `lineBytesMax` is reported as such, whole, and skipped.
final class LineReader {
    enum Line {
        case bytes(UnsafeBufferPointer<UInt8>)
        case tooLong
    }

    private let descriptor: Int32
    let lineBytesMax: Int
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private var start = 0
    private var end = 0
    private var atEnd = false
    /// Why reading stopped early, if it did (reported after the lines read before it).
    private(set) var error: String?
    /// Bytes of input handed out as lines so far, line breaks included.
    private(set) var consumed = 0

    init(_ descriptor: Int32, lineBytesMax: Int) {
        self.descriptor = descriptor
        self.lineBytesMax = lineBytesMax
        buffer = .allocate(capacity: max(1 << 20, 2 * lineBytesMax))
    }

    deinit { buffer.deallocate() }

    /// Whether ``next()`` would have to wait for input: no whole line is buffered and nothing
    /// more has arrived yet (a pipe whose writer waits for answers).
    var wouldWait: Bool {
        guard !atEnd, memchr(buffer.baseAddress! + start, 0x0A, end - start) == nil else { return false }
        var request = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        return poll(&request, 1, 0) == 0
    }

    func next() -> Line? {
        var skipping = false  // inside a line too long to hold
        while true {
            let base = buffer.baseAddress!
            if let newline = memchr(base + start, 0x0A, end - start) {
                let stop = base.distance(to: newline.assumingMemoryBound(to: UInt8.self))
                let lineStart = start
                consumed += stop + 1 - start
                start = stop + 1
                if skipping { return .tooLong }
                return line(lineStart..<stop)
            }
            if atEnd {
                guard start < end || skipping else { return nil }
                let lineStart = start
                consumed += end - start
                start = end
                return skipping ? .tooLong : line(lineStart..<end)
            }
            // No whole line in the buffer: keep its start (unless it is already too long) and read more.
            if skipping || end - start > lineBytesMax {
                skipping = true
                start = 0
                end = 0
            } else if start > 0 {
                memmove(base, base + start, end - start)
                end -= start
                start = 0
            }
            // read(2), not fread: on a pipe it returns what has arrived, so a caller that
            // writes a line and waits for its answer gets it.
            let read = Glibc.read(descriptor, base + end, buffer.count - end)
            if read < 0 {
                if errno == EINTR { continue }
                error = String(cString: strerror(errno))
                atEnd = true
            } else if read == 0 {
                atEnd = true
            } else {
                end += read
            }
        }
    }

    private func line(_ range: Range<Int>) -> Line {
        var stop = range.upperBound
        while stop > range.lowerBound, buffer[stop - 1] == 0x0D { stop -= 1 }
        if stop - range.lowerBound > lineBytesMax { return .tooLong }
        return .bytes(UnsafeBufferPointer(rebasing: buffer[range.lowerBound..<stop]))
    }
}

struct LineReaderError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// A progress bar on standard error, only when it is a terminal: lines done, their rate, and
/// (for a file) how much of it is read and the time left.
final class Progress {
    let enabled: Bool
    let totalBytes: Int?
    let started = monotonicNanos()
    var lastDraw: UInt64 = 0
    private var drawn = false

    init(enabled: Bool, totalBytes: Int? = nil) {
        self.enabled = enabled
        self.totalBytes = totalBytes
    }

    func update(lines: Int, refused: Int, bytes: Int = 0) {
        guard enabled else { return }
        let now = monotonicNanos()
        guard now - lastDraw > 100_000_000 else { return }
        lastDraw = now
        let elapsed = max(0.001, seconds(since: started))
        let rate = Double(lines) / elapsed
        var text = "\(grouped(lines)) lines, \(grouped(Int(rate))) lines/s, \(grouped(refused)) refused"
        if let total = totalBytes, total > 0 {
            let fraction = min(1, Double(bytes) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            let left = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
            text = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(Int(fraction * 100))%  " + text
                + (fraction > 0.001 ? ", about \(Self.clock(left)) left" : "")
        }
        printError("\r\u{1B}[2K  " + text, newline: false)
        drawn = true
    }

    /// `1 m 05 s`, `42 s`.
    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 60 ? "\(s / 60) m \(s % 60 < 10 ? "0" : "")\(s % 60) s" : "\(s) s"
    }

    /// Takes the bar off the screen, so that a line printed next is not drawn into it.
    func clear() {
        if enabled && drawn { printError("\r\u{1B}[2K", newline: false); drawn = false }
    }

    func finish() { clear() }
}

extension Submit {
    /// `submit --dry-run`: every line decided on a private copy of the state (a view: no lock),
    /// each seeing what the lines before it would have done; nothing is appended.
    func runDry(_ input: Int32) throws {
        let view = try openView(common, verb: "submit")
        var dry = view.dryRun(futureTolerance: try tolerance.micros())
        let parser = BatchParser(LineReader(input, lineBytesMax: Self.lineBytesMax), batch: batch)
        defer { parser.stop() }
        var refused = 0
        while let pending = parser.next() {
            let results: [DryRunResult]
            do { results = try dry.run(pending.commands) } catch { throw failure(error, json: common.json, verb: "submit") }
            var next = 0
            for line in pending.lines {
                switch line.kind {
                case .invalid(let error):
                    refused += 1
                    print(dryLine(line.number, DryRunResult(outcome: .refused(RefusalReason(error), message: error.description, recorded: nil), events: [])))
                case .blank:
                    if common.json { print(#"{"line":\#(line.number),"ok":true,"dryRun":true,"positions":[],"events":[],"blank":true}"#) }
                case .command:
                    let result = results[next]
                    next += 1
                    if !result.outcome.isAccepted { refused += 1 }
                    print(dryLine(line.number, result))
                }
            }
        }
        if let error = parser.readError { throw failure(LineReaderError(message: "cannot read \(file): \(error)"), json: common.json, verb: "submit") }
        if refused > 0 { throw ExitCode(ExitStatus.refused) }
    }

    /// One line's dry-run result: JSON with the events it would record, or words for a person.
    func dryLine(_ line: Int, _ result: DryRunResult) -> String {
        let events = result.events.map { e -> JSON in
            .object([("position", .uint(e.position)), ("at", .string(Time.iso(e.at))), ("client", e.client.isEmpty ? .null : .string(e.client)),
                     ("type", .string(e.event.kind.name)), ("description", .string(e.event.describe(.russian))), ("details", e.event.details)])
        }
        switch result.outcome {
        case .accepted, .repeated(.accepted):
            let repeated: Bool = if case .repeated = result.outcome { true } else { false }
            if common.json {
                var fields: [(String, JSON)] = [("line", .int(Int64(line))), ("ok", .bool(true)), ("dryRun", .bool(true)),
                                                ("positions", .array(result.events.map { .uint($0.position) })), ("events", .array(events))]
                if repeated { fields.append(("repeated", .bool(true))) }
                return JSON.object(fields).rendered
            }
            if repeated { return "line \(line): a repeat of a key already answered: would append nothing" }
            return "line \(line): would record \(result.events.count) event\(result.events.count == 1 ? "" : "s")"
                + result.events.map { "\n  #\($0.position) \($0.event.kind.name): \(Printable.escaped($0.event.describe(.russian)))" }.joined()
        case .refused(let reason, let message, _):
            let (json, words) = Self.lineMessage(line, message)
            if common.json {
                return JSON.object([("line", .int(Int64(line))), ("ok", .bool(false)), ("dryRun", .bool(true)), ("error", .string(reason.code.rawValue)),
                                    ("message", .string(json)), ("events", .array(events))]).rendered
            }
            return "line \(line): would be refused \(reason.code.rawValue): \(Printable.escaped(words))"
                + result.events.map { "\n  (journaled as #\($0.position) \($0.event.kind.name))" }.joined()
        case .repeated(.refused(let code, let message)):
            let (json, words) = Self.lineMessage(line, message)
            if common.json {
                return JSON.object([("line", .int(Int64(line))), ("ok", .bool(false)), ("dryRun", .bool(true)), ("error", .string(code)),
                                    ("message", .string(json)), ("repeated", .bool(true))]).rendered
            }
            return "line \(line): a repeat of a key refused before (\(code)): \(Printable.escaped(words))"
        }
    }
}
