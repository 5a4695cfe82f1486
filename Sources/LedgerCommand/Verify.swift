import ArgumentParser
import Ledger
import LedgerLog

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum and the hash chain of the log, and every event's client number; exit 2 naming the first bad spot.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let report: VerifyReport
        let numbers: UInt64
        do {
            try Ledger.checkIdentity(directory: common.data)
            report = try LogReader.verify(directory: Ledger.logDirectory(common.data))
            numbers = try Ledger.verifyClientNumbers(LogReader(directory: Ledger.logDirectory(common.data)))
        } catch {
            throw failure(error, json: common.json, verb: "verify")
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
            print(JSON.object(fields).rendered)
        } else {
            print("ok: \(grouped(report.events)) events in \(grouped(report.batches)) batches, \(report.segments) segment(s), \(grouped(report.bytes)) bytes; every checksum and the hash chain hold, and \(grouped(numbers)) client numbers name their clients")
        }
    }
}
