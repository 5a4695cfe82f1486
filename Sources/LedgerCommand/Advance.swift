import ArgumentParser
import Ledger
import LedgerDomain

struct Advance: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Append the activations, expiries and birthday bonuses due up to a time (running it twice appends nothing).")

    @OptionGroup var common: CommonOptions

    @Option(name: .long, help: "The time to advance to: 2025-03-01T10:00:00Z, or a date (its midnight UTC).")
    var to: String

    @Flag(name: .long, help: "Advance past the future tolerance (what an advance appends can never be taken back).")
    var allowFuture = false

    @OptionGroup var tolerance: FutureToleranceOption

    func run() throws {
        guard let time = Time.parse(to) else { throw ValidationError("--to '\(to)' is not an ISO 8601 time or date") }
        var options = Ledger.Configuration()
        options.futureTolerance = try tolerance.micros()
        if !allowFuture, time > Ledger.latestAccepted(now: options.clock(), tolerance: options.futureTolerance) {
            // Said before the ledger is opened (an open rebuilds the state), in the library's words.
            throw ValidationError(Ledger.aheadMessage("to", time, now: options.clock(), tolerance: options.futureTolerance)
                                  + "; what an advance appends can never be taken back, so an advance past it needs --allow-future")
        }
        let ledger = try openLedger(common, verb: "advance", options: options)
        defer { try? ledger.close() }
        let result: AdvanceResult
        do { result = try ledger.advance(to: time, beyondClock: allowFuture) } catch { throw failure(error, json: common.json, verb: "advance") }
        if common.json {
            print(JSON.object([("activated", .int(Int64(result.activated))), ("expired", .int(Int64(result.expired))),
                               ("birthdayBonuses", .int(Int64(result.birthdayBonuses))), ("birthdaysRefused", .int(Int64(result.birthdaysRefused))),
                               ("positions", .array(result.positions.map { .uint($0) }))]).rendered)
        } else {
            print("advanced to \(Time.iso(time)): \(result.activated) lot(s) activated, \(result.expired) expired, \(result.birthdayBonuses) birthday bonus(es), \(result.birthdaysRefused) refused (blocked, not participants); \(result.positions.count) event(s) appended")
        }
    }
}
