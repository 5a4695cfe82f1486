import Foundation
import Testing
@testable import LedgerDomain

@Suite("Segment filters: the catalog and the filters file")
struct SegmentFilterTests {
    /// The catalog as the Segment filters article shows it.
    static func catalogTable() -> String {
        var lines = ["| field | group | operators | values | meaning | example |", "|---|---|---|---|---|---|"]
        for field in FilterField.allCases {
            let type: String = switch field.valueType {
            case .text: "text"
            case .exact: "text, exact"
            case .count: "whole number"
            case .money: "hundredths"
            case .days: "days (0: today)"
            case .date: "date"
            case .choice(let names): names.joined(separator: " / ")
            case .flag: "true / false"
            case .context: "`variable=value`"
            case .segment: "segment name"
            }
            let extra = field.parameters.map { "; `\($0.key)`\($0.required ? "" : " (optional)")" }.joined()
            lines.append("| `\(field.rawValue)` | \(field.group.rawValue) | \(field.operators.map(\.rawValue).joined(separator: ", ")) | \(type)\(extra) | \(field.meaning) | `\(field.example)` |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    @Test("the article's catalog is the code's, field by field, and every example parses")
    func catalogMatchesTheArticle() throws {
        let root = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound))
        let article = try String(contentsOfFile: root + "/Sources/Ledger/Ledger.docc/SegmentFilters.md", encoding: .utf8)
        let table = Self.catalogTable()
        #expect(article.contains(table), "the article's table differs from the catalog; it should read:\n\(table)")
        for field in FilterField.allCases {
            let parsed = try SegmentFilter.parseList("[\(field.example)]")
            #expect(parsed.count == 1 && parsed[0].field == field, "\(field)'s example")
        }
    }

    @Test("a filters file parses to its filters: operators, values of each type, exclude, parameters")
    func parses() throws {
        let filters = try SegmentFilter.parseList("""
        [{"field":"purchaseSum","op":"gte","values":[5000000]},
         {"field":"gender","op":"in","values":["female"],"exclude":true},
         {"field":"joinDate","op":"between","values":["2025-01-01","2025-03-31"]},
         {"field":"walletInstalled","op":"eq","values":[true]},
         {"field":"eventTimes","op":"gte","values":[3],"event":"call_center","withinDays":30},
         {"field":"mailingReceived","op":"in","values":["opened","clicked"],"kind":"manual"},
         {"field":"eventContext","op":"eq","values":["topic=бонусы"]}]
        """)
        #expect(filters.map(\.field) == [.purchaseSum, .gender, .joinDate, .walletInstalled, .eventTimes, .mailingReceived, .eventContext])
        #expect(filters[0].values == [.number(5_000_000)] && filters[0].op == .gte && !filters[0].exclude)
        #expect(filters[1].exclude && filters[1].values == [.text("female")])
        #expect(filters[2].values == [.day(Time.day(of: Time.parse("2025-01-01")!)), .day(Time.day(of: Time.parse("2025-03-31")!))])
        #expect(filters[3].values == [.flag(true)])
        #expect(filters[4].event == "call_center" && filters[4].withinDays == 30)
        #expect(filters[5].kind == .manual)
    }

    @Test("a bad filter is refused naming the filter and what is wrong", arguments: [
        (#"{"field":"purchaseSum"}"#, "0", "", "must be a JSON array"),
        (#"[{"field":"shoeSize","op":"eq","values":[42]}]"#, "1", "shoeSize", "unknown field 'shoeSize'"),
        (#"[{"field":"gender","op":"gte","values":["female"]}]"#, "1", "gender", "'gte' does not apply to gender"),
        (#"[{"field":"purchaseSum","op":"gte","values":["lots"]}]"#, "1", "purchaseSum", "values[0]: must be a whole number"),
        (#"[{"field":"purchaseSum","op":"between","values":[5]}]"#, "1", "purchaseSum", "'between' takes 2, got 1"),
        (#"[{"field":"purchaseSum","op":"between","values":[9,5]}]"#, "1", "purchaseSum", "the first is above the second"),
        (#"[{"field":"joinDate","op":"eq","values":["2025-02-30"]}]"#, "1", "joinDate", "must be a date"),
        (#"[{"field":"gender","op":"in","values":["other"]}]"#, "1", "gender", "must be one of female, male"),
        (#"[{"field":"level","op":"in","values":["Gold"],"colour":"red"}]"#, "1", "colour", "unknown key 'colour'"),
        (#"[{"field":"level","op":"in","values":["Gold"]},{"field":"eventTimes","op":"gte","values":[3]}]"#, "2", "eventTimes", "event: missing"),
        (#"[{"field":"level","op":"in","values":["Gold"],"withinDays":3}]"#, "1", "level", "takes no 'withinDays'"),
        (#"[{"field":"walletInstalled","op":"eq","values":[true],"exclude":"yes"}]"#, "1", "walletInstalled", "exclude: must be true or false"),
        (#"[{"field":"eventContext","op":"eq","values":["topic"]}]"#, "1", "eventContext", "'variable=value'"),
        (#"[{"field":"purchaseCount","op":"gte","values":[-1]}]"#, "1", "purchaseCount", "from 0"),
    ] as [(String, String, String, String)])
    func refuses(text: String, filter: String, field: String, reason: String) {
        #expect {
            _ = try SegmentFilter.parseList(text)
        } throws: { error in
            guard let error = error as? FilterError else { return false }
            let message = error.description
            return error.filter == Int(filter) && error.field == field && message.contains(reason)
        }
    }

    @Test("a segment may not contain itself through memberOf, however long the chain")
    func cycles() throws {
        let a = try SegmentFilter.parseList(#"[{"field":"memberOf","op":"in","values":["B"]}]"#)
        let b = try SegmentFilter.parseList(#"[{"field":"memberOf","op":"in","values":["C","D"]}]"#)
        let c = try SegmentFilter.parseList(#"[{"field":"purchaseCount","op":"gte","values":[1]}]"#)
        let d = try SegmentFilter.parseList(#"[{"field":"memberOf","op":"eq","values":["A"]}]"#)
        // A → B → D → A.
        #expect(throws: FilterError.self) { try SegmentFilter.checkNoCycle("A", a, definitions: ["B": b, "C": c, "D": d]) }
        do {
            try SegmentFilter.checkNoCycle("A", a, definitions: ["B": b, "C": c, "D": d])
        } catch {
            #expect(error.description.contains("A → B → D → A"), "\(error)")
        }
        // Without D's link back, no cycle; nor for a segment naming itself only through others' names.
        try SegmentFilter.checkNoCycle("A", a, definitions: ["B": b, "C": c, "D": c])
        #expect(throws: FilterError.self) { try SegmentFilter.checkNoCycle("A", d, definitions: [:]) }
    }

    @Test("a segment.defined line with a bad filter is refused as invalid_event naming the filter; a definition closing a cycle is refused by the state")
    func definitions() throws {
        let bad = #"{"type":"segment.defined","name":"C","filters":[{"field":"level","op":"in","values":["Gold"]},{"field":"gender","op":"gte","values":["female"]}]}"#
        do {
            _ = try CommandParser.parse(line: bad, number: 7)
            Issue.record("a bad filter was taken")
        } catch {
            #expect(error.field == "filters" && error.description.contains("filter 2 (gender)"), "\(error)")
        }
        var book = Book()
        #expect(book.run(#"{"type":"segment.defined","name":"A","filters":[{"field":"memberOf","op":"in","values":["B"]}]}"#).isAccepted)
        #expect(book.run(#"{"type":"segment.defined","name":"B","filters":[{"field":"purchaseCount","op":"gte","values":[1]}]}"#).isAccepted)
        // B redefined to include A closes A → B → A; the old B stays.
        let cycle = book.run(#"{"type":"segment.defined","name":"B","filters":[{"field":"memberOf","op":"eq","values":["A"]}]}"#)
        guard case .refused(let reason, let message, _) = cycle else { Issue.record("\(cycle)"); return }
        #expect(reason.code == .invalidEvent && message.contains("B → A → B"), "\(message)")
        #expect(book.state.segmentDefinitions["B"]?.filters.contains("purchaseCount") == true)
        // A definition built in Swift, not through the input's parser, is checked all the same.
        var state = book.state
        var out: [EventRecord] = []
        let swift = state.execute(Command(client: "", event: .segmentDefined(SegmentDefinition(name: "E", filters: #"[{"field":"level","op":"gte","values":[1]}]"#))),
                                  now: book.now, into: &out)
        guard case .refused(let refusal, let why, _) = swift else { Issue.record("\(swift)"); return }
        #expect(refusal.code == .invalidEvent && why.contains("filter 1 (level)"), "\(why)")
        // A segment naming itself is a cycle too.
        #expect(!book.run(#"{"type":"segment.defined","name":"D","filters":[{"field":"memberOf","op":"in","values":["D"]}]}"#).isAccepted)
    }
}
