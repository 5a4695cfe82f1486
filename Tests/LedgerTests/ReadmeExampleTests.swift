import Testing
import Ledger

// What README.md shows a service doing, compiled and run here: the code between the markers is
// README's first Swift block but its import, line for line (indented), which the second test
// checks. This file
// imports only `Ledger`, as README does.

@Suite("README's Swift example")
struct ReadmeExampleTests {
    @Test("README's Swift example builds and runs against a fresh directory")
    func runs() async throws {
        let scratch = TemporaryDirectory()
        let directory = scratch.path
        // README: begin
        let ledger = try Ledger(directory: directory)                    // takes the lock; the newest snapshot + the log after it
        // A checkout: a new client, a receipt, bonuses spent on it. Amounts are Money or Bonus
        // (hundredths inside), times Timestamp (Duration arithmetic), ids ClientID (a string literal).
        let now = Timestamp("2025-01-15T12:00:00Z")!
        let outcomes = try await ledger.submit([                         // one atomic append; returns once durable
            .register(client: "c1", Registration(phone: "79161234567", name: "Анна"), at: now, key: "till-7-0001"),
            .purchase(client: "c1", Purchase(id: "p1", total: Money(1200), items: [
                Item(sku: "A1", name: "Кроссовки", category: "Обувь", price: Money(1200))]), at: now, key: "till-7-0002"),
            .writeOff(client: "c1", Bonus(500), purchase: "p1", at: now + .seconds(60), key: "till-7-0003"),
        ])                                                               // from a task it suspends; tasks at once share a sync
        for outcome in outcomes {
            switch outcome {
            case .accepted(let positions): print("recorded at", positions)
            case .repeated(let first): print("a resend; first answered", first)   // the same key again: never twice
            case .refused(.insufficientBalance(let requested, let available), _, _):
                print("asked \(requested), \(available) available")  // typed: "asked 500,00 bonuses, 0,00 bonuses available"
            case .refused(let reason, let message, _): print(reason.code.rawValue, message)   // the contract's code, a sentence
            }
        }
        let same = try CommandParser.parse(line: #"{"type":"purchase.made","client":"c1","purchase":"p1","total":120000}"#, number: 1)
        try await ledger.advance(to: now + .seconds(30 * 86_400))       // activations and expiries due by then
        let card = ledger.client(phone: "+7 (916) 123-45-67")            // Codable: balances, lots, receipts, stats

        // The next commands can be checked while the log syncs these (what `ledger submit` does);
        // each call has a blocking form too, for scripts and threads:
        let pending = try ledger.beginSubmit([.accrue(client: "c1", Bonus(50), comment: "apology")])   // checked, queued
        let first = try await ledger.finish(pending)                     // durable now: show these outcomes

        // Readers that must never hold the writer up read a copy of their own, kept up with the log:
        let replica = try ledger.replica()                               // rebuilt from the log
        Task { try await replica.follow() }                              // applies batches as they commit
        let seen = replica.client(id: "c1")                              // durable state only; no writer lock
        try ledger.close()                                               // a snapshot if due; later writes throw .closed
        // README: end
        #expect(outcomes[0].isAccepted && outcomes[1].isAccepted && same.client == "c1" && card?.id == "c1" && first[0].isAccepted)
        // The purchase's bonuses are still pending at the write-off: refused, with the figures.
        guard case .refused(.insufficientBalance(Bonus(500), Bonus.zero), _, _) = outcomes[2] else {
            Issue.record("the write-off was not refused for want of bonuses: \(outcomes[2])"); return
        }
        #expect(card?.balances.available.minorUnits ?? 0 > 0, "the purchase's bonuses activated by the advance")
        _ = seen
    }

    @Test("the code above is README's, line for line")
    func matchesReadme() throws {
        let root = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound))
        let readme = try String(contentsOfFile: root + "/README.md", encoding: .utf8)
        let start = try #require(readme.range(of: "Using the ledger from Swift"))
        let open = try #require(readme.range(of: "```swift\n", range: start.upperBound..<readme.endIndex))
        let close = try #require(readme.range(of: "```\n", range: open.upperBound..<readme.endIndex))
        // Its first two lines (the import, a blank line) are this file's import.
        let block = readme[open.upperBound..<close.lowerBound].split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(block.first?.hasPrefix("import Ledger ") == true && block.dropFirst().first == "")
        let shown = block.dropFirst(2)
        let source = try String(contentsOfFile: #filePath, encoding: .utf8)
        let begin = try #require(source.range(of: "// README: begin\n"))
        let end = try #require(source.range(of: "        // README: end", range: begin.upperBound..<source.endIndex))
        let compiled = source[begin.upperBound..<end.lowerBound].split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            .map { $0.hasPrefix("        ") ? $0.dropFirst(8) : $0 }
        #expect(shown.map(String.init) == compiled.map(String.init))
    }
}
