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
        func flush() throws {
            let commands = pending.compactMap(\.command)
            let outcomes: [Outcome]
            do { outcomes = try ledger.submit(commands) } catch { throw failure(error, json: common.json, verb: "submit") }
            var next = 0
            for item in pending {
                if let error = item.error {
                    refused += 1
                    report(line: item.line, .refused(code: error.code, message: error.description, recorded: nil))
                } else {
                    let outcome = outcomes[next]
                    next += 1
                    if outcome.isAccepted { accepted += 1 } else { refused += 1 }
                    report(line: item.line, outcome)
                }
            }
            fflush(nil)
            pending.removeAll(keepingCapacity: true)
            progress.update(lines: lineNumber, refused: refused)
        }
        var buffer = [CChar](repeating: 0, count: 64 * 1024)
        var partial: [UInt8] = []
        while fgets(&buffer, Int32(buffer.count), input) != nil {
            let chunk = buffer.withUnsafeBufferPointer { UnsafeRawBufferPointer(start: $0.baseAddress, count: strlen($0.baseAddress!)) }
            partial.append(contentsOf: chunk)
            guard partial.last == 0x0A || feof(input) != 0 else {
                if partial.count > Self.lineBytesMax * 2 { partial.removeFirst(partial.count - Self.lineBytesMax * 2) }
                continue
            }
            lineNumber += 1
            var bytes = partial
            partial.removeAll(keepingCapacity: true)
            while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            if bytes.count > Self.lineBytesMax {
                pending.append((lineNumber, nil, InvalidInput(line: lineNumber, field: nil, reason: "the line is longer than \(Self.lineBytesMax) bytes")))
            } else if let text = String(validating: bytes, as: UTF8.self) {
                do { pending.append((lineNumber, try CommandParser.parse(line: text, number: lineNumber), nil)) } catch {
                    pending.append((lineNumber, nil, error))
                }
            } else {
                pending.append((lineNumber, nil, InvalidInput(line: lineNumber, field: nil, reason: "the line is not valid UTF-8")))
            }
            if pending.count >= batch { try flush() }
        }
        if !pending.isEmpty { try flush() }
        progress.finish()
        if !common.json {
            printError("ledger submit: \(grouped(lineNumber)) lines, \(grouped(accepted)) accepted, \(grouped(refused)) refused; durable at position \(grouped(ledger.stats().events))")
        }
        if refused > 0 { throw ExitCode(ExitStatus.refused) }
    }

    func report(line: Int, _ outcome: Outcome) {
        switch outcome {
        case .accepted(let range):
            if common.json {
                print(JSON.object([("line", .int(Int64(line))), ("ok", .bool(true)), ("positions", .array(range.map { .uint($0) }))]).rendered)
            } else {
                print("line \(line): ok, position\(range.count > 1 ? "s \(range.lowerBound)–\(range.upperBound)" : " \(range.lowerBound)")")
            }
        case .repeated(.accepted(let range)):
            if common.json {
                print(JSON.object([("line", .int(Int64(line))), ("ok", .bool(true)), ("positions", .array(range.map { .uint($0) })), ("repeated", .bool(true))]).rendered)
            } else {
                print("line \(line): ok (a repeat: nothing appended), positions \(range.lowerBound)–\(range.upperBound)")
            }
        case .refused(let code, let message, let recorded):
            if common.json {
                var fields: [(String, JSON)] = [("line", .int(Int64(line))), ("ok", .bool(false)), ("error", .string(code)), ("message", .string(message))]
                if let recorded { fields.append(("recorded", .uint(recorded))) }
                print(JSON.object(fields).rendered)
            } else {
                print("line \(line): refused \(code): \(message)\(recorded.map { " (journaled at position \($0))" } ?? "")")
            }
        case .repeated(.refused(let code, let message)):
            if common.json {
                print(JSON.object([("line", .int(Int64(line))), ("ok", .bool(false)), ("error", .string(code)), ("message", .string(message)), ("repeated", .bool(true))]).rendered)
            } else {
                print("line \(line): refused \(code) (a repeat): \(message)")
            }
        }
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
