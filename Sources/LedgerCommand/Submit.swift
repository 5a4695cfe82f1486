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

    static let lineBytesMax = 32 * 1024

    func run() throws {
        guard batch >= 1 && batch <= 50_000 else { throw ValidationError("--batch must be 1 to 50000") }
        guard let input = file == "-" ? fdopen(0, "r") : fopen(file, "r") else {
            throw failure(LineReaderError(message: "cannot open \(file): \(String(cString: strerror(errno)))"), json: common.json, verb: "submit")
        }
        defer { if file != "-" { fclose(input) } }
        let ledger = try openLedger(common, verb: "submit")
        defer { try? ledger.close() }
        let progress = Progress(enabled: isatty(2) != 0)
        var lineNumber = 0
        var refused = 0
        var accepted = 0
        var pending: [(line: Int, command: Command?, error: InvalidInput?)] = []
        var output = ""  // a batch's result lines, written at once when its events are durable
        func flush() throws {
            let commands = pending.compactMap(\.command)
            let outcomes: [Outcome]
            do { outcomes = try ledger.submit(commands) } catch { throw failure(error, json: common.json, verb: "submit") }
            var next = 0
            output.removeAll(keepingCapacity: true)
            for item in pending {
                if let error = item.error {
                    refused += 1
                    report(line: item.line, .refused(code: error.code, message: error.description, recorded: nil), into: &output)
                } else {
                    let outcome = outcomes[next]
                    next += 1
                    if outcome.isAccepted { accepted += 1 } else { refused += 1 }
                    report(line: item.line, outcome, into: &output)
                }
            }
            print(output, terminator: "")
            fflush(nil)
            pending.removeAll(keepingCapacity: true)
            progress.update(lines: lineNumber, refused: refused)
        }
        let lines = LineReader(input, lineBytesMax: Self.lineBytesMax)
        while let line = lines.next() {
            lineNumber += 1
            switch line {
            case .tooLong:
                pending.append((lineNumber, nil, InvalidInput(line: lineNumber, field: nil, reason: "the line is longer than \(Self.lineBytesMax) bytes")))
            case .bytes(let bytes):
                if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                do { pending.append((lineNumber, try CommandParser.parse(utf8: bytes, number: lineNumber), nil)) } catch {
                    pending.append((lineNumber, nil, error))
                }
            }
            if pending.count >= batch { try flush() }
        }
        if let error = lines.error {
            throw failure(LineReaderError(message: "cannot read \(file): \(error)"), json: common.json, verb: "submit")
        }
        if !pending.isEmpty { try flush() }
        progress.finish()
        if !common.json {
            printError("ledger submit: \(grouped(lineNumber)) lines, \(grouped(accepted)) accepted, \(grouped(refused)) refused; durable at position \(grouped(ledger.stats().events))")
        }
        if refused > 0 { throw ExitCode(ExitStatus.refused) }
    }

    /// Appends a line's result (with its line break) to `out`.
    func report(line: Int, _ outcome: Outcome, into out: inout String) {
        switch outcome {
        case .accepted(let range):
            if common.json {
                // The common case, written directly: {"line":…,"ok":true,"positions":[…]}
                out += "{\"line\":"
                out += String(line)
                out += ",\"ok\":true,\"positions\":["
                for position in range {
                    if position != range.lowerBound { out += "," }
                    out += String(position)
                }
                out += "]}"
            } else {
                out += "line \(line): ok, position\(range.count > 1 ? "s \(range.lowerBound)–\(range.upperBound)" : " \(range.lowerBound)")"
            }
        case .repeated(.accepted(let range)):
            if common.json {
                JSON.object([("line", .int(Int64(line))), ("ok", .bool(true)), ("positions", .array(range.map { .uint($0) })), ("repeated", .bool(true))]).write(into: &out)
            } else {
                out += "line \(line): ok (a repeat: nothing appended), positions \(range.lowerBound)–\(range.upperBound)"
            }
        case .refused(let code, let message, let recorded):
            if common.json {
                var fields: [(String, JSON)] = [("line", .int(Int64(line))), ("ok", .bool(false)), ("error", .string(code)), ("message", .string(message))]
                if let recorded { fields.append(("recorded", .uint(recorded))) }
                JSON.object(fields).write(into: &out)
            } else {
                out += "line \(line): refused \(code): \(message)\(recorded.map { " (journaled at position \($0))" } ?? "")"
            }
        case .repeated(.refused(let code, let message)):
            if common.json {
                JSON.object([("line", .int(Int64(line))), ("ok", .bool(false)), ("error", .string(code)), ("message", .string(message)), ("repeated", .bool(true))]).write(into: &out)
            } else {
                out += "line \(line): refused \(code) (a repeat): \(message)"
            }
        }
        out += "\n"
    }
}

/// Lines of a file, read a large block at a time: each line is handed out in place (without
/// its line break, or a carriage return before it), valid until the next call. A line longer
/// than `lineBytesMax` is reported as such, whole, and skipped.
final class LineReader {
    enum Line {
        case bytes(UnsafeBufferPointer<UInt8>)
        case tooLong
    }

    private let file: UnsafeMutablePointer<FILE>
    private let lineBytesMax: Int
    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private var start = 0
    private var end = 0
    private var atEnd = false
    /// Why reading stopped early, if it did (reported after the lines read before it).
    private(set) var error: String?

    init(_ file: UnsafeMutablePointer<FILE>, lineBytesMax: Int) {
        self.file = file
        self.lineBytesMax = lineBytesMax
        buffer = .allocate(capacity: max(1 << 20, 2 * lineBytesMax))
    }

    deinit { buffer.deallocate() }

    func next() -> Line? {
        var skipping = false  // inside a line too long to hold
        while true {
            let base = buffer.baseAddress!
            if let newline = memchr(base + start, 0x0A, end - start) {
                let stop = base.distance(to: newline.assumingMemoryBound(to: UInt8.self))
                let lineStart = start
                start = stop + 1
                if skipping { return .tooLong }
                return line(lineStart..<stop)
            }
            if atEnd {
                guard start < end || skipping else { return nil }
                let lineStart = start
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
            let read = fread(base + end, 1, buffer.count - end, file)
            end += read
            if read == 0 {
                if ferror(file) != 0 { error = String(cString: strerror(errno)) }
                atEnd = true
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

/// A progress line on standard error, only when it is a terminal.
final class Progress {
    let enabled: Bool
    let started = monotonicNanos()
    var lastDraw: UInt64 = 0

    init(enabled: Bool) { self.enabled = enabled }

    func update(lines: Int, refused: Int) {
        guard enabled else { return }
        let now = monotonicNanos()
        guard now - lastDraw > 100_000_000 else { return }
        lastDraw = now
        let rate = Double(lines) / max(0.001, seconds(since: started))
        printError("\r\u{1B}[2K  \(grouped(lines)) lines, \(grouped(refused)) refused, \(grouped(Int(rate))) lines/s", newline: false)
    }

    func finish() { if enabled && lastDraw > 0 { printError("\r\u{1B}[2K", newline: false) } }
}
