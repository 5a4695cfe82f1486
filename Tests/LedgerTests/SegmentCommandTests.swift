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
        // Deleting what is not defined is refused, naming it, and records nothing.
        let position = try LedgerView(directory: dir.path).position
        let again = Run(["--data", dir.path, "segment", "delete", "Big", "--json"], stdin: "")
        #expect(again.status == 1 && again.json?["error"] == .string("not_allowed") && again.stdout.contains("no segment is defined as 'Big'"), "\(again.stdout)")
        #expect(try LedgerView(directory: dir.path).position == position)
    }

    @Test("a segment on what was bought and on custom events, end to end: saved, kept up to date as purchases come, its members and the card's segments")
    func factsSegment() throws {
        let dir = TemporaryDirectory()
        let shoes = #"{"sku":"A1","name":"Кроссовки","category":"Обувь","qty":1,"price":300000}"#
        let lines = [
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c1","phone":"79160000001"}"#,
            #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c2","phone":"79160000002"}"#,
            #"{"type":"purchase.made","at":"2025-03-02T10:00:00Z","client":"c1","purchase":"p1","total":300000,"store":"s1","items":[\#(shoes)]}"#,
            #"{"type":"purchase.made","at":"2025-03-02T11:00:00Z","client":"c2","purchase":"p2","total":300000,"store":"s1","items":[\#(shoes)]}"#,
            #"{"type":"custom","at":"2025-03-03T10:00:00Z","client":"c2","name":"call_center","context":{"topic":"бонусы"}}"#,
        ].joined(separator: "\n") + "\n"
        #expect(Run(["--data", dir.path, "submit"], stdin: lines).status == 0)
        let filters = dir.path + "/shoes.json"
        try #"[{"field":"boughtCategory","op":"in","values":["Обувь"]},{"field":"itemCount","op":"gte","values":[2]}]"#
            .write(toFile: filters, atomically: true, encoding: .utf8)
        #expect(Run(["--data", dir.path, "segment", "save", "Shoes", "--filters", filters], stdin: "").status == 0)
        let none = Run(["--data", dir.path, "segment", "members", "Shoes", "--json"], stdin: "")
        #expect(none.status == 0 && none.json?["count"] == .integer(0), "\(none.stdout) \(none.stderr)")
        // c1's second pair: two pairs of shoes now, and the segment is entered in that purchase's batch.
        // (No `at`: the engine's clock dates it, after the definition's time.)
        let second = #"{"type":"purchase.made","client":"c1","purchase":"p3","total":300000,"store":"s2","items":[\#(shoes)]}"#
        #expect(Run(["--data", dir.path, "submit"], stdin: second + "\n").status == 0)
        let members = Run(["--data", dir.path, "segment", "members", "Shoes", "--json"], stdin: "")
        #expect(members.json?["clients"] == .array([.string("c1")]), "\(members.stdout) \(members.stderr)")
        let card = Run(["--data", dir.path, "client", "c1", "--json"], stdin: "")
        #expect(card.json?["segments"] == .array([.string("Shoes")]), "\(card.stdout)")
        try #"[{"field":"eventTimes","op":"gte","values":[1],"event":"call_center","withinDays":36600},{"field":"eventContext","op":"in","values":["topic=бонусы"]}]"#
            .write(toFile: filters, atomically: true, encoding: .utf8)
        #expect(Run(["--data", dir.path, "segment", "save", "Callers", "--filters", filters], stdin: "").status == 0)
        let callers = Run(["--data", dir.path, "segment", "members", "Callers", "--json"], stdin: "")
        #expect(callers.json?["clients"] == .array([.string("c2")]), "\(callers.stdout) \(callers.stderr)")
    }
}
