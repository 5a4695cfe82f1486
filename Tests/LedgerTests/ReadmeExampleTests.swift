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
        let ledger = try Ledger(directory: directory)                       // takes the lock; the newest snapshot + the log after it
        let register = Command(client: "c1", key: "till-7-0001",
                               event: .clientRegistered(Registration(phone: "79161234567", name: "Анна")))
        let buy = Command(client: "c1", key: "till-7-0002",
                          event: .purchaseMade(Purchase(purchase: "p1", total: 120000, paid: 120000)))
        // From a task: suspends (holds no thread) until durable; tasks submitting at once share a sync.
        let outcomes = try await ledger.submit([register, buy])
        for outcome in outcomes {
            switch outcome {
            case .accepted(let positions): print("recorded at", positions)
            case .repeated(let first): print("a resend; first answered", first)
            case .refused(.insufficientBalance(let requested, let available), _, _):
                print("asked \(requested), \(available) available")     // the data behind the code
            case .refused(let reason, let message, _): print(reason.code.rawValue, message)   // "insufficient_balance", …
            }
        }
        let same = try CommandParser.parse(line: #"{"type":"purchase.made","client":"c1","purchase":"p1","total":120000}"#, number: 1)
        try await ledger.advance(to: Time.parse("2025-02-01")!)         // activations and expiries due
        let card = ledger.client(phone: "+7 (916) 123-45-67")            // balances, lots, receipts, stats

        // The next commands can be checked while the log syncs these (what `ledger submit` does);
        // each call has a blocking form too, for scripts and threads:
        let pending = try ledger.beginSubmit([register])                 // checked, applied, queued
        let first = try await ledger.finish(pending)                     // durable now: show these outcomes

        // Readers that must never hold the writer up read a copy of their own, kept up with the log:
        let replica = try ledger.replica()                               // rebuilt from the log
        Task { try await replica.follow() }                              // applies batches as they commit
        let seen = replica.client(id: "c1")                              // durable state only; no writer lock
        // README: end
        #expect(outcomes.allSatisfy(\.isAccepted) && same.client == "c1" && card?.id == "c1" && first.count == 1)
        _ = seen
        try ledger.close()
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
