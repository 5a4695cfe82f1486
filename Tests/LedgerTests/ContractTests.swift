import Foundation
import Testing
import Ledger
@testable import LedgerDomain

/// The contract article (Ledger.docc/TheContract.md) against the engine: its examples parse,
/// and every input type and refusal code is on it.
@Suite("The contract article")
struct ContractTests {
    static func article() throws -> String {
        let root = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound))
        return try String(contentsOfFile: root + "/Sources/Ledger/Ledger.docc/TheContract.md", encoding: .utf8)
    }

    static var root: String { String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound)) }

    /// The article's example lines.
    static func examples() throws -> [String] {
        let text = try article()
        let open = try #require(text.range(of: "## Examples"))
        let start = try #require(text.range(of: "```\n", range: open.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").map(String.init)
    }

    static let submittable = EventKind.allCases.filter { !$0.isDerivedOnly }.map(\.name) + ["bonus.corrected", "level.set"]

    @Test("every example parses with the engine's parser, and every input type has one")
    func examplesParse() throws {
        let text = try Self.article()
        let lines = try Self.examples()
        var types: Set<String> = []
        for (k, line) in lines.enumerated() {
            do { _ = try CommandParser.parse(line: line, number: k + 1) } catch { Issue.record("example \(k + 1) does not parse: \(error)") }
            if let range = line.range(of: #""type":""#), let close = line[range.upperBound...].firstIndex(of: "\"") {
                types.insert(String(line[range.upperBound..<close]))
            }
        }
        let submittable = Self.submittable
        #expect(Set(submittable).subtracting(types).isEmpty, "no example of: \(Set(submittable).subtracting(types).sorted())")
        for name in submittable { #expect(text.contains("`\(name)`"), "\(name) is not in the types table") }
    }

    @Test("every refusal code is in the article's table")
    func everyCode() throws {
        let text = try Self.article()
        for code in ErrorCode.allCases { #expect(text.contains("| `\(code.rawValue)` |"), "\(code.rawValue) is missing") }
    }

    /// Lines the parser refuses for their shape, one reason each: the schema must refuse them too.
    static let malformed = [
        #"{"type":"bonus.accrued","client":"c1"}"#,                                   // amount missing
        #"{"type":"bonus.accrued","client":"c1","amount":-5}"#,                      // below 1
        #"{"type":"bonus.accrued","client":"c1","amount":1000000000001}"#,           // above 10¹²
        #"{"type":"bonus.accrued","client":"c1","amount":"50"}"#,                    // a string
        #"{"type":"bonus.accrued","client":"c1","amount":5,"amout":5}"#,             // a field it does not have
        #"{"type":"purchase.made","client":"c1","purchase":"p1","total":100,"items":[{"sku":"a","qty":0,"price":1}]}"#,
        #"{"type":"purchase.made","client":"c1","purchase":"p1","total":100,"items":[{"sku":"a","quantity":1,"price":1}]}"#,
        #"{"type":"purchase.returned","client":"c1","purchase":"p1","returnID":"r1","amount":5}"#,
        #"{"type":"mailing.sent","client":"c1","mailing":"m1","channel":"fax"}"#,
        #"{"type":"nps.rated","client":"c1","score":11}"#,
        #"{"type":"client.profile_changed","client":"c1"}"#,                         // no field to change
        #"{"type":"client.card_added","client":"c1","card":""}"#,                     // empty
        #"{"type":"bonus.activated","client":"c1","lot":1,"amount":5}"#,             // derived by the engine
        #"{"type":"wallet.installed","platform":"apple"}"#,                          // client missing
        #"{"type":"bonus.written_off","client":"c1","amount":5,"at":"yesterday"}"#,  // not a time
        #"{"type":"rules.changed","rules":{"accrualPercent":120}}"#,
        #"{"type":"rules.changed","rules":{"lifetimeDays":0}}"#,
        #"{"type":"level.set","client":"c1"}"#,                                      // level missing (null is a value)
        #"{"client":"c1","amount":5}"#,                                               // no type
        #"{"type":"segment.defined","name":"VIP","filters":[{"field":"shoeSize","op":"eq","values":[42]}]}"#,  // no such field
        #"{"type":"segment.defined","name":"VIP","filters":[{"field":"level","op":"eq","values":[]}]}"#,        // no value
    ]

    @Test("the input's JSON Schema (Ledger.docc/input.schema.json) accepts every example, refuses what the parser refuses for its shape, and has the parser's types")
    func schemaAgreesWithParser() throws {
        let examples = try Self.examples()
        for (k, line) in Self.malformed.enumerated() {
            #expect(throws: InvalidInput.self, "malformed line \(k + 1) parses: \(line)") { try CommandParser.parse(line: line, number: k + 1) }
        }
        let schemaPath = Self.root + "/Sources/Ledger/Ledger.docc/input.schema.json"
        let verdicts = try Self.validate(examples + Self.malformed, schema: schemaPath)
        #expect(verdicts.count == examples.count + Self.malformed.count)
        for (k, ok) in verdicts.prefix(examples.count).enumerated() { #expect(ok, "the schema refuses example \(k + 1): \(examples[k])") }
        for (k, ok) in verdicts.dropFirst(examples.count).enumerated() { #expect(!ok, "the schema accepts malformed line \(k + 1): \(Self.malformed[k])") }
        // Its variants are the parser's submittable types, each once.
        let schema = try JSONParser.parse(String(contentsOfFile: schemaPath, encoding: .utf8))
        guard case .array(let variants)? = schema["oneOf"] else { Issue.record("the schema has no oneOf of types"); return }
        let names = variants.compactMap { v -> String? in if case .string(let name)? = v["properties"]?["type"]?["const"] { name } else { nil } }
        #expect(names.count == Set(names).count && Set(names) == Set(Self.submittable),
                "schema-only: \(Set(names).subtracting(Self.submittable).sorted()); missing: \(Set(Self.submittable).subtracting(names).sorted())")
        // A filter's fields are the catalog's.
        guard case .array(let fields)? = schema["$defs"]?["segmentFilter"]?["properties"]?["field"]?["enum"] else { Issue.record("no segmentFilter"); return }
        #expect(fields == FilterField.allCases.map { .string($0.rawValue) }, "the schema's filter fields differ from the catalog")
    }

    /// Validates each line against the schema with Python's jsonschema (Draft 2020-12, the
    /// schema itself checked first); true where a line is valid. `make test` installs it.
    static func validate(_ lines: [String], schema: String) throws -> [Bool] {
        let script = """
        import json, sys
        import jsonschema
        schema = json.load(open(sys.argv[1], encoding="utf-8"))
        jsonschema.Draft202012Validator.check_schema(schema)
        validator = jsonschema.Draft202012Validator(schema)
        for line in sys.stdin.read().split("\\n"):
            if line: print("true" if validator.is_valid(json.loads(line)) else "false")
        """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, schema]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(lines.joined(separator: "\n").utf8))
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            Issue.record("python3 with jsonschema could not validate (`make test` installs it: python3 -m pip install jsonschema): \(String(decoding: err, as: UTF8.self))")
            return []
        }
        return String(decoding: out, as: UTF8.self).split(separator: "\n").map { $0 == "true" }
    }

    @Test("the article's client card is what the library's contractJSON gives for the same history, byte for byte")
    func cardExample() async throws {
        let text = try Self.article()
        let section = try #require(text.range(of: "## The client card"))
        let start = try #require(text.range(of: "```\n", range: section.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let shown = text[start.upperBound..<end.lowerBound].split(separator: "\n").map { $0.hasPrefix(" ") ? $0.dropFirst() : $0 }.joined()
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        func submit(_ lines: [String]) async throws {
            _ = try await ledger.submit(lines.enumerated().map { try CommandParser.parse(line: $1, number: $0 + 1) })
        }
        try await submit(Self.cardHistory)
        try await ledger.advance(to: Timestamp(year: 2025, month: 1, day: 22)!)
        try await submit(Self.cardHistoryAfter)
        let card = try #require(ledger.client(id: "c1"))
        #expect(card.contractJSON.text == shown)
        try ledger.close()
    }

    /// The history behind the article's card (the write-off and the second purchase of the
    /// first part are refused: the first purchase's bonuses are not active yet).
    static let cardHistory = [
        #"{"type":"rules.changed","at":"2025-01-01T08:00:00Z","rules":{"accrualPercent":5,"pendingDays":14,"lifetimeDays":365,"levels":[{"name":"Silver","threshold":0},{"name":"Gold","threshold":5000000,"percent":7}]}}"#,
        #"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c1","phone":"8 (916) 123-45-67","name":"Анна","card":"2000001","birthday":"1990-05-17"}"#,
        #"{"type":"purchase.made","at":"2025-01-02T12:00:00Z","client":"c1","purchase":"p1","total":120000,"store":"store-7","items":[{"sku":"A1","name":"Кроссовки","category":"Обувь","qty":1,"price":120000}]}"#,
        #"{"type":"messenger.subscribed","at":"2025-01-03T09:00:00Z","client":"c1","channel":"sms"}"#,
        #"{"type":"mailing.sent","at":"2025-01-10T09:00:00Z","client":"c1","mailing":"m-1","channel":"sms"}"#,
        #"{"type":"nps.rated","at":"2025-01-11T09:00:00Z","client":"c1","score":9,"comment":"спасибо"}"#,
        #"{"type":"wallet.installed","at":"2025-01-12T09:00:00Z","client":"c1","platform":"apple"}"#,
        #"{"type":"bonus.written_off","at":"2025-01-20T09:00:00Z","client":"c1","amount":2000,"reason":"purchase","purchase":"p2"}"#,
        #"{"type":"purchase.made","at":"2025-01-20T10:00:00Z","client":"c1","purchase":"p2","total":100000,"bonusesSpent":2000}"#,
        #"{"type":"segment.assigned","at":"2025-01-21T09:00:00Z","client":"c1","segment":"VIP"}"#,
    ]
    static let cardHistoryAfter = [
        #"{"type":"purchase.made","at":"2025-01-22T10:00:00Z","client":"c1","purchase":"p2","total":100000,"bonusesSpent":2000}"#,
        #"{"type":"note.added","at":"2025-01-22T11:00:00Z","client":"c1","text":"просил перезвонить"}"#,
    ]
}
