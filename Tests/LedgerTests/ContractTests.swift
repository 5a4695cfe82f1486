import Testing
@testable import LedgerDomain

/// The contract article (Ledger.docc/TheContract.md) against the engine: its examples parse,
/// and every input type and refusal code is on it.
@Suite("The contract article")
struct ContractTests {
    static func article() throws -> String {
        let root = String(#filePath.prefix(upTo: #filePath.range(of: "/Tests/")!.lowerBound))
        return try String(contentsOfFile: root + "/Sources/Ledger/Ledger.docc/TheContract.md", encoding: .utf8)
    }

    @Test("every example parses with the engine's parser, and every input type has one")
    func examplesParse() throws {
        let text = try Self.article()
        let open = try #require(text.range(of: "## Examples"))
        let start = try #require(text.range(of: "```\n", range: open.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let lines = text[start.upperBound..<end.lowerBound].split(separator: "\n").map(String.init)
        var types: Set<String> = []
        for (k, line) in lines.enumerated() {
            do { _ = try CommandParser.parse(line: line, number: k + 1) } catch { Issue.record("example \(k + 1) does not parse: \(error)") }
            if let range = line.range(of: #""type":""#), let close = line[range.upperBound...].firstIndex(of: "\"") {
                types.insert(String(line[range.upperBound..<close]))
            }
        }
        let submittable = EventKind.allCases.filter { !$0.isDerivedOnly }.map(\.name) + ["bonus.corrected", "level.set"]
        #expect(Set(submittable).subtracting(types).isEmpty, "no example of: \(Set(submittable).subtracting(types).sorted())")
        for name in submittable { #expect(text.contains("`\(name)`"), "\(name) is not in the types table") }
    }

    @Test("every refusal code is in the article's table")
    func everyCode() throws {
        let text = try Self.article()
        for code in ErrorCode.allCases { #expect(text.contains("| `\(code.rawValue)` |"), "\(code.rawValue) is missing") }
    }
}
