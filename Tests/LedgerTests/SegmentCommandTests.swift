import Foundation
import Testing
@testable import Ledger
import LedgerDomain

@Suite("ledger segment")
struct SegmentCommandTests {
    @Test("save checks the filters file and records the definition; list and members answer in interface.md's JSON; a bad file exits 2, an unknown segment 1")
    func segmentVerbs() throws {
        let dir = TemporaryDirectory()
        let lines = [
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c1","phone":"79160000001","gender":"female"}"#,
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c2","phone":"79160000002"}"#,
            #"{"type":"purchase.made","at":"2025-03-02T10:00:00Z","client":"c1","purchase":"p1","total":600000}"#,
        ].joined(separator: "\n") + "\n"
        #expect(Run(["--data", dir.path, "submit"], stdin: lines).status == 0)
        let filters = dir.path + "/big.json"
        try #"[{"field":"purchaseSum","op":"gte","values":[500000]}]"#.write(toFile: filters, atomically: true, encoding: .utf8)
        let saved = Run(["--data", dir.path, "segment", "save", "Big", "--filters", filters, "--color", "gold"], stdin: "")
        #expect(saved.status == 0 && saved.stdout.contains("saved (version 1)"), "\(saved.stderr)")
        let list = Run(["--data", dir.path, "segment", "list", "--json"], stdin: "")
        #expect(list.json?["segments"] == .array([.object([("name", .string("Big")), ("color", .string("gold")), ("version", .integer(1)),
                                                            ("filters", .array([.object([("field", .string("purchaseSum")), ("op", .string("gte")), ("values", .array([.integer(500_000)]))])]))])]))
        // As of a time after the definition: c1 only.
        let members = Run(["--data", dir.path, "segment", "members", "Big", "--json", "--as-of", "2099-01-01"], stdin: "")
        #expect(members.status == 0 && members.json?["clients"] == .array([.string("c1")]) && members.json?["count"] == .integer(1), "\(members.stdout) \(members.stderr)")
        // The journal's segment filter reads the same members: c1's events only (its registration and purchase).
        let journal = Run(["--data", dir.path, "journal", "--segment", "Big", "--json"], stdin: "")
        guard case .array(let rows)? = journal.json?["rows"] else { Issue.record("\(journal.stdout) \(journal.stderr)"); return }
        #expect(rows.count >= 2 && rows.allSatisfy { $0["client"] == .string("c1") }, "\(journal.stdout)")
        // Before it was defined there was no such segment.
        let before = Run(["--data", dir.path, "segment", "members", "Big", "--json", "--as-of", "2025-03-03"], stdin: "")
        #expect(before.status == 1 && before.json?["error"] == .string("unknown_segment"))
        try #"[{"field":"purchaseSum","op":"in","values":["a lot"]}]"#.write(toFile: filters, atomically: true, encoding: .utf8)
        let bad = Run(["--data", dir.path, "segment", "save", "Big", "--filters", filters], stdin: "")
        #expect(bad.status == 2 && bad.stderr.contains("filter 1 (purchaseSum)"), "\(bad.stderr)")
        let deleted = Run(["--data", dir.path, "segment", "delete", "Big"], stdin: "")
        #expect(deleted.status == 0)
        #expect(Run(["--data", dir.path, "segment", "members", "Big"], stdin: "").status == 1)
    }
}
