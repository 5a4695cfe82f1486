import ArgumentParser
import Ledger
import LedgerLog

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum and the hash chain of the log, every event's client number, and the snapshots; exit 2 naming the first bad spot.")

    @OptionGroup var common: CommonOptions

    @Flag(name: .long, help: "Also prove that the state each snapshot restores equals a replay of the log up to its position.")
    var deep = false

    func run() throws {
        let report: VerifyReport
        let numbers: UInt64
        let snapshots: [Snapshots.Check]
        do {
            let identity = try Ledger.checkIdentity(directory: common.data)
            report = try LogReader.verify(directory: Ledger.logDirectory(common.data))
            let reader = try LogReader(directory: Ledger.logDirectory(common.data))
            numbers = try Ledger.verifyClientNumbers(reader)
            snapshots = Snapshots.check(ledger: common.data, identity: identity?.identity, reader: reader, deep: deep)
        } catch {
            throw failure(error, json: common.json, verb: "verify")
        }
        if let bad = snapshots.first(where: { $0.problem != nil }) {
            let message = "snapshot \(bad.path): \(bad.problem!) (the log itself is whole; an open passes this snapshot over and rebuilds from the log)"
            if common.json {
                print(JSON.object([("ok", .bool(false)), ("error", .string("snapshot_damaged")), ("message", .string(message)), ("file", .string(bad.path))]).rendered)
            }
            printError("ledger verify: " + message)
            throw ExitCode(ExitStatus.failure)
        }
        if let torn = report.tornTail { printError("ledger verify: " + tornTailWords(torn)) }
        if let bytes = report.writerTailBytes {
            printError("ledger verify: a writer holds the log open: checked up to its last whole batch (position \(grouped(report.events))); \(grouped(bytes)) bytes after it are the writer's and were left to it")
        }
        if common.json {
            var fields: [(String, JSON)] = [("ok", .bool(true)), ("segments", .int(Int64(report.segments))), ("batches", .uint(report.batches)),
                                            ("events", .uint(report.events)), ("bytes", .uint(report.bytes))]
            if let torn = report.tornTail {
                fields.append(("tornTail", .object([("file", .string(torn.segmentFile)), ("offset", .uint(torn.offset)), ("bytes", .uint(torn.bytes)), ("reason", .string(torn.reason))])))
            }
            if let bytes = report.writerTailBytes { fields.append(("writerActive", .bool(true))); fields.append(("writerTailBytes", .uint(bytes))) }
            fields.append(("snapshots", .array(snapshots.map { check in
                .object([("file", .string(check.path)), ("position", check.position.map { .uint($0) } ?? .null), ("proven", .bool(check.proven))])
            })))
            print(JSON.object(fields).rendered)
        } else {
            print("ok: \(grouped(report.events)) events in \(grouped(report.batches)) batches, \(report.segments) segment(s), \(grouped(report.bytes)) bytes; every checksum and the hash chain hold, and \(grouped(numbers)) client numbers name their clients")
            for check in snapshots {
                let position = check.position.map(grouped) ?? "?"
                print("ok: snapshot at position \(position) (\(check.path)): whole and of this log" + (check.proven ? "; its state equals a replay of the log up to it" : ""))
            }
        }
    }
}
