import LedgerSync
import Synchronization
import Testing
import Ledger
import LedgerService
import ServiceLifecycleTestKit

@Suite("The ledger as a service")
struct LedgerServiceTests {
    @Test("the service advances on its schedule and, on graceful shutdown, closes the ledger cleanly")
    func advancesAndCloses() async throws {
        let dir = TemporaryDirectory()
        let t0 = Time.parse("2025-03-01T10:00:00Z")!
        let now = Lock(t0)
        var options = Ledger.Configuration(durability: .none)
        options.clock = { now.withLock { $0 } }
        let service = try LedgerService(directory: dir.path, configuration: options, advanceEvery: .milliseconds(5))
        _ = try await service.ledger.submit([
            Command(client: "", .changeRules({ var p = RulesPatch(); p.pendingDays = 1; return p }())),
            Command(client: "c1", event: .clientRegistered(Registration(phone: "79160000001"))),
            Command(client: "c1", event: .purchaseMade(Purchase(purchase: "p1", total: 100_000, paid: 100_000))),
        ])
        #expect(service.ledger.client(id: "c1")?.balances.pending.minorUnits ?? 0 > 0)
        try await testGracefulShutdown { trigger in
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await service.run() }
                // Two days on: the schedule's next advance activates the pending bonuses.
                now.withLock { $0 = t0 + 2 * Time.microsPerDay }
                var waited = 0
                while service.ledger.client(id: "c1")?.balances.pending.minorUnits ?? 1 > 0 && waited < 400 {
                    try await Task.sleep(for: .milliseconds(5))
                    waited += 1
                }
                trigger.triggerGracefulShutdown()
                try await group.waitForAll()
            }
        }
        // Closed cleanly: the lock is free, and the directory opens with the advance in it.
        let reopened = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        #expect(reopened.client(id: "c1")?.balances.pending.minorUnits == 0 && reopened.client(id: "c1")?.balances.available.minorUnits ?? 0 > 0)
        try reopened.close()
    }
}
