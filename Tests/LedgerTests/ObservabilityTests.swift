import Foundation
import InMemoryLogging
import Logging
import MetricsTestKit
import Testing
import Ledger

@Suite("Logs and metrics")
struct ObservabilityTests {
    @Test("an operator is told of a snapshot passed over and of each open; the counters count outcomes and refusals by code")
    func logsAndCounters() async throws {
        let dir = TemporaryDirectory()
        let metrics = TestMetrics()
        var options = Ledger.Configuration(durability: .none)
        options.metrics = metrics
        options.snapshotOnCloseAfter = 1
        let ledger = try Ledger(directory: dir.path, configuration: options)
        let t0 = Time.parse("2025-03-01T10:00:00Z")!
        _ = try await ledger.submit([
            Command(at: t0, client: "c1", event: .clientRegistered(Registration(phone: "79160000001"))),
            Command(at: t0, client: "c1", event: .bonusWrittenOff(WriteOff(amount: 100, reason: .manual))),
            Command(at: t0, client: "c1", key: "k1", event: .noteAdded("звонил")),
        ])
        _ = try await ledger.submit([Command(at: t0, client: "c1", key: "k1", event: .noteAdded("звонил"))])
        #expect(try metrics.expectCounter("ledger_commands", [("outcome", "accepted")]).totalValue == 2)
        #expect(try metrics.expectCounter("ledger_commands", [("outcome", "refused")]).totalValue == 1)
        #expect(try metrics.expectCounter("ledger_commands", [("outcome", "repeated")]).totalValue == 1)
        #expect(try metrics.expectCounter("ledger_refusals", [("code", "insufficient_balance")]).totalValue == 1)
        // Two submits timed; the first made one group commit of the log, the resend none.
        #expect(try metrics.expectTimer("ledger_submit_duration").values.count == 2)
        #expect(try metrics.expectCounter("ledger_log_commits").totalValue == 1)
        #expect(try metrics.expectTimer("ledger_log_commit_duration").values.allSatisfy { $0 > 0 })
        try ledger.close()

        // A byte flipped in the snapshot the close wrote: the next open passes it over, and says so.
        let snapshots = dir.path + "/snapshots"
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: snapshots).first { $0.hasSuffix(".snapshot") })
        var bytes = try #require(FileManager.default.contents(atPath: snapshots + "/" + name))
        bytes[bytes.count - 100] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: snapshots + "/" + name))
        let handler = InMemoryLogHandler()
        var quiet = Ledger.Configuration(durability: .none)
        quiet.logger = Logger(label: "test", factory: { _ in handler })
        let reopened = try Ledger(directory: dir.path, configuration: quiet)
        let entries = handler.entries
        #expect(entries.contains { $0.level == .warning && "\($0.message)".contains("snapshot passed over") })
        #expect(entries.contains { $0.level == .info && "\($0.message)" == "ledger opened" && $0.metadata["events"] == "3" })
        try reopened.close()

        // Silent by default: a ledger given no logger says nothing (and needs no setup).
        let silent = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        try silent.close()
    }
}
