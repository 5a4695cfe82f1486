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
            report = try LogReader.verify(directory: Ledger.logDirectory(common.data))
            numbers = try Ledger.verifyClientNumbers(LogReader(directory: Ledger.logDirectory(common.data)))
        } catch {
            throw failure(error, json: common.json, verb: "verify")
        }
        if common.json {
            print(JSON.object([("ok", .bool(true)), ("segments", .int(Int64(report.segments))), ("batches", .uint(report.batches)),
                               ("events", .uint(report.events)), ("bytes", .uint(report.bytes))]).rendered)
        } else {
            print("ok: \(grouped(report.events)) events in \(grouped(report.batches)) batches, \(report.segments) segment(s), \(grouped(report.bytes)) bytes; every checksum and the hash chain hold, and \(grouped(numbers)) client numbers name their clients")
        }
    }
}
