import ArgumentParser
import LedgerLog

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every checksum and the hash chain of the log; exit 2 naming the first bad spot.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let report: VerifyReport
        do {
            report = try LogReader.verify(directory: common.data)
        } catch let error as LogError {
            if common.json {
                var fields: [(String, JSON)] = [("ok", .bool(false)), ("error", .string(error.code.rawValue)), ("message", .string(error.message))]
                if let file = error.file { fields.append(("file", .string(file))) }
                if let offset = error.offset { fields.append(("offset", .uint(offset))) }
                print(JSON.object(fields).rendered)
            }
            printError("ledger verify: \(error)")
            throw ExitCode(ExitStatus.failure)
        }
        if common.json {
            print(JSON.object([("ok", .bool(true)), ("segments", .int(Int64(report.segments))), ("batches", .uint(report.batches)),
                               ("events", .uint(report.events)), ("bytes", .uint(report.bytes))]).rendered)
        } else {
            print("ok: \(grouped(report.events)) events in \(grouped(report.batches)) batches, \(report.segments) segment(s), \(grouped(report.bytes)) bytes; every checksum and the hash chain hold")
        }
    }
}
