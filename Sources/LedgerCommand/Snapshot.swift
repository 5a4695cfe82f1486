import ArgumentParser
import Ledger
import LedgerDomain

struct SnapshotVerb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Write a snapshot of the whole state, so that the next open replays only the events after it.",
        discussion: "Snapshots live in DIR/snapshots (data-format.md §13); the newest two are kept. A writer also writes one when it closes with 10 000 or more events past the newest.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let ledger = try openLedger(common, verb: "snapshot")
        let started = Double(monotonicNanos()) / 1e9
        let info: Snapshots.Info?
        do {
            info = try ledger.writeSnapshot()
            try ledger.close()
        } catch {
            try? ledger.close()
            throw failure(error, json: common.json, verb: "snapshot")
        }
        let seconds = Double(monotonicNanos()) / 1e9 - started
        let position = ledger.read { $0.nextPosition }
        if common.json {
            var fields: [(String, JSON)] = [("ok", .bool(true)), ("written", .bool(info != nil)), ("position", .uint(position))]
            if let info { fields += [("path", .string(info.path)), ("bytes", .uint(info.bytes)), ("seconds", .double((seconds * 1000).rounded() / 1000))] }
            print(JSON.object(fields).rendered)
        } else if let info {
            print("wrote \(info.path): the state at position \(grouped(info.position)), \(grouped(info.bytes)) bytes in \(format2(seconds)) s")
        } else {
            print(position == 0 ? "the ledger is empty: nothing to snapshot" : "the newest snapshot already stands at position \(grouped(position)): nothing written")
        }
    }
}
