import ArgumentParser
import Glibc
import Ledger
import LedgerDomain

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Log size, events, clients and per-type counts.")

    @OptionGroup var common: CommonOptions

    func run() throws {
        let view = try openView(common, verb: "stats")
        let s = view.stats()
        let peak = Self.residentPeakBytes()
        if common.json {
            let extra: [(String, JSON)] = [
                ("bytesPerEvent", s.events == 0 ? .null : .double((Double(s.logBytes) / Double(s.events) * 100).rounded() / 100)),
                ("rebuildSeconds", .double((view.rebuildSeconds * 1000).rounded() / 1000)),
                ("snapshotPosition", view.startSnapshot.map { .uint($0.position) } ?? .null),
                ("residentPeakBytes", peak.map { .uint($0) } ?? .null),
            ]
            print(JSON.object(s.contractJSON + extra).rendered)
            return
        }
        print("\(grouped(s.events)) events in \(s.segments) segment(s), \(grouped(s.logBytes)) bytes on disk (\(s.events == 0 ? "—" : format2(Double(s.logBytes) / Double(s.events))) bytes/event)")
        print("\(grouped(s.clients)) clients (\(grouped(s.blockedClients)) blocked, \(grouped(s.deletedClients)) deleted), \(grouped(s.purchases)) purchases, \(s.openOrders) open orders, rules version \(s.rulesVersion)")
        if let first = s.firstEventAt, let last = s.lastEventAt { print("from \(first) to \(last)") }
        print("bonuses on account \(Money.format(s.balances.available)), pending \(Money.format(s.balances.pending)), reserved \(Money.format(s.balances.reserved)), used \(Money.format(s.balances.used)), expired \(Money.format(s.balances.expired)), accrued \(Money.format(s.balances.accrued))")
        let rate = view.rebuildSeconds > 0 ? format2(Double(s.events) / view.rebuildSeconds / 1e6) : "—"
        let memory = peak.map { ", resident peak \(grouped($0 / 1_000_000)) MB" } ?? ""
        if let start = view.startSnapshot {
            print("opened from the snapshot at position \(grouped(start.position)) and \(grouped(s.events - start.position)) events after it in \(format2(view.rebuildSeconds)) s" + memory)
        } else {
            print("rebuilt from the log in \(format2(view.rebuildSeconds)) s (\(rate) M events/s)" + memory)
        }
        var table = Table(header: ["type", "events"])
        for (name, count) in s.typesByCount { table.rows.append([name, grouped(count)]) }
        print("\n" + table.rendered)
    }

    /// This process's peak resident size (VmHWM in /proc/self/status), where Linux tells it.
    static func residentPeakBytes() -> UInt64? {
        guard let file = fopen("/proc/self/status", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("VmHWM:") else { continue }
            let kilobytes = text.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first.flatMap { UInt64($0) }
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }
}
