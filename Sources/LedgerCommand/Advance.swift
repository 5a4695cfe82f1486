import ArgumentParser
import Ledger
import LedgerDomain

struct Advance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the activations, expiries and birthday bonuses due up to a time (running it twice appends nothing).")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "The time to advance to: 2025-03-01T10:00:00Z, or a date (its midnight UTC).")
    var to: String

    func run() throws {
        guard let time = Time.parse(to) else { throw ValidationError("--to '\(to)' is not an ISO 8601 time or date") }
        let ledger = try openLedger(common, verb: "advance")
        defer { try? ledger.close() }
        let result: AdvanceResult
        do { result = try ledger.advance(to: time) } catch { throw failure(error, json: common.json, verb: "advance") }
        if common.json {
            print(JSON.object([("activated", .int(Int64(result.activated))), ("expired", .int(Int64(result.expired))),
                               ("birthdayBonuses", .int(Int64(result.birthdayBonuses))), ("birthdaysRefused", .int(Int64(result.birthdaysRefused))),
                               ("positions", .array(result.positions.map { .uint($0) }))]).rendered)
        } else {
            print("advanced to \(Time.iso(time)): \(result.activated) lot(s) activated, \(result.expired) expired, \(result.birthdayBonuses) birthday bonus(es), \(result.birthdaysRefused) refused (blocked, not participants); \(result.positions.count) event(s) appended")
        }
    }
}
