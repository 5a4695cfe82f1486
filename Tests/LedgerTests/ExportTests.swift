import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Ledger
import LedgerDomain
@testable import LedgerExport
import ZIPFoundation

/// The export read back: the workbook unzipped and its XML parsed here, the CSV parsed here,
/// every cell compared with what the client's card says (not with the table's own code).
@Suite("Export")
struct ExportTests {
    /// What a cell should hold: a text, a number (with the style that shows it), or nothing.
    enum Want: Equatable {
        case text(String)
        case number(Double, style: Int)
        case none
    }

    /// The expected cell of column `key` for a client, from its card and its segments.
    static func want(_ key: String, _ c: ClientCard, segments: [String]) -> Want {
        func text(_ s: String?) -> Want { s.map(Want.text) ?? .none }
        func amount<U>(_ a: Amount<U>) -> Want { .number(Double(a.minorUnits) / 100, style: 2) }
        func moment(_ t: Timestamp?) -> Want { t.map { .number(Double($0.microsecondsSince1970 / 1_000_000) / 86_400 + 25_569, style: 4) } ?? .none }
        let b = c.balances, s = c.stats
        switch key {
        case "id": return .text(c.id.rawValue)
        case "name": return text(c.name)
        case "phone": return text(c.phone)
        case "email": return text(c.email)
        case "cards": return c.cards.isEmpty ? .none : .text(c.cards.joined(separator: ", "))
        case "gender": return text(c.gender.map { $0 == .female ? "женский" : "мужской" })
        case "birthday": return c.birthday.map { .number(Double($0.microsecondsSince1970 / 86_400_000_000 + 25_569), style: 3) } ?? .none
        case "status": return .text(["participant": "участник", "subscriber": "подписчик", "blocked": "заблокирован"][c.status.rawValue]!)
        case "registeredAt": return moment(c.registeredAt)
        case "joinPlace", "addedBy": return .none   // checked apart (the card does not show them)
        case "level": return text(c.level)
        case "bonusesAvailable": return amount(b.available)
        case "bonusesPending": return amount(b.pending)
        case "bonusesReserved": return amount(b.reserved)
        case "bonusesUsed": return amount(b.used)
        case "bonusesExpired": return amount(b.expired)
        case "bonusesAccrued": return amount(b.accrued)
        case "debt": return amount(b.debt)
        case "purchaseCount": return .number(Double(s.purchaseCount), style: 0)
        case "purchaseSum": return amount(s.purchaseSum)
        case "returnCount": return .number(Double(s.returnCount), style: 0)
        case "returnSum": return amount(s.returnSum)
        case "averageCheck": return amount(s.averageCheck)
        case "maxCheck": return amount(s.maxCheck)
        case "lastPurchaseAt": return moment(s.lastPurchaseAt)
        case "wallet": return c.wallet.isEmpty ? .none : .text(c.wallet.map(\.rawValue).joined(separator: ", "))
        case "segments": return segments.isEmpty ? .none : .text(segments.joined(separator: ", "))
        default: Issue.record("no expectation for column \(key)"); return .none
        }
    }

    /// The worksheet's cells: for each row, the cells by column letters (type, style, text).
    final class SheetReader: NSObject, XMLParserDelegate {
        struct Cell { var type = "n", style = 0, text = "" }
        var rows: [[String: Cell]] = []
        var cell: Cell?, reference = "", inText = false
        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String]) {
            switch name {
            case "row": rows.append([:])
            case "c":
                cell = Cell(type: attributes["t"] ?? "n", style: Int(attributes["s"] ?? "0") ?? -1)
                reference = String((attributes["r"] ?? "").prefix { $0.isLetter })
            case "v", "t": inText = true
            default: break
            }
        }
        func parser(_ parser: XMLParser, foundCharacters string: String) { if inText { cell?.text += string } }
        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            switch name {
            case "v", "t": inText = false
            case "c": rows[rows.count - 1][reference] = cell; cell = nil
            default: break
            }
        }
    }

    /// SpreadsheetML's `_xHHHH_` escapes undone.
    static func unescape(_ s: String) -> String {
        var out = "", rest = Substring(s)
        while let range = rest.range(of: "_x") {
            out += rest[..<range.lowerBound]
            let after = rest[range.upperBound...]
            if after.count >= 5, after[after.index(after.startIndex, offsetBy: 4)] == "_", let code = UInt32(after.prefix(4), radix: 16), let scalar = Unicode.Scalar(code) {
                out.unicodeScalars.append(scalar)
                rest = after.dropFirst(5)
            } else {
                out += "_x"
                rest = after
            }
        }
        return out + rest
    }

    /// RFC 4180 records.
    static func parseCSV(_ text: String) -> [[String]] {
        var records: [[String]] = [], record: [String] = [], field = "", quoted = false
        var chars = Array(text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text)[...]
        while let ch = chars.popFirst() {
            if quoted {
                if ch == "\"" {
                    if chars.first == "\"" { field.append("\""); chars = chars.dropFirst() } else { quoted = false }
                } else { field.append(ch) }
            } else if ch == "\"" { quoted = true
            } else if ch == "," { record.append(field); field = ""
            } else if ch == "\r\n" || ch == "\n" { record.append(field); records.append(record); record = []; field = ""
            } else { field.append(ch) }
        }
        return records
    }

    static func letters(_ k: Int) -> String { k < 26 ? String(UnicodeScalar(UInt8(65 + k))) : String(UnicodeScalar(UInt8(64 + k / 26))) + String(UnicodeScalar(UInt8(65 + k % 26))) }

    @Test("the workbook and the CSV hold, cell by cell, each client's card, its segments, and texts XML cannot hold as they are")
    func readBack() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(ledger, SnapshotTests.days(clients: 120, days: 60, seed: 11)[...])
        var t = ledger.read { $0.lastEventAt } + 1
        func next() -> Micros { t += 1; return t }
        let odd = " A \u{1}\"comma, & <tag> _x0041_\nline "
        let setUp: [Command] = [
            Command(at: next(), client: "odd", event: .clientRegistered(Registration(phone: "79169990011", name: odd, place: "=1+2", addedBy: "operator \u{1F}"))),
            Command(at: next(), client: "odd", event: .segmentAssigned("Hand-picked")),
            Command(at: next(), client: "", event: .segmentDefined(SegmentDefinition(name: "Often", filters: #"[{"field":"purchaseCount","op":"gte","values":[3]}]"#))),
        ]
        let outcomes = try ledger.submit(setUp)
        #expect(outcomes.allSatisfy { $0.isAccepted }, "\(outcomes)")
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        let often = Set(try view.segmentMembers("Often").clients.map(\.rawValue))
        #expect(!often.isEmpty)
        func segments(_ id: String) -> [String] { (often.contains(id) ? ["Often"] : []) + (id == "odd" ? ["Hand-picked"] : []) }
        let listed = view.state.clients.filter { !$0.deleted }.map(\.id)

        // The workbook.
        let xlsx = dir.path + "/clients.xlsx"
        #expect(try ClientExport.write(view.clientTable(), format: .xlsx, to: xlsx) == listed.count)
        let archive = try Archive(url: URL(fileURLWithPath: xlsx), accessMode: .read)
        for part in ["[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml"] {
            #expect(archive[part] != nil, "the workbook lacks \(part)")
        }
        var sheet = Data()
        _ = try archive.extract(try #require(archive["xl/worksheets/sheet1.xml"])) { sheet.append($0) }
        let reader = SheetReader()
        let parser = XMLParser(data: sheet)
        parser.delegate = reader
        #expect(parser.parse(), "the worksheet is not well-formed XML: \(String(describing: parser.parserError))")
        let columns = ClientTable.columns
        #expect(reader.rows.count == listed.count + 1)
        for (k, column) in columns.enumerated() {
            let header = reader.rows[0][Self.letters(k)]
            #expect(header?.type == "inlineStr" && header?.style == 1 && header?.text == column.russian)
        }
        var checked = 0
        for row in reader.rows.dropFirst() {
            let id = try #require(row["A"]?.text)
            let card = try #require(view.client(id: id))
            #expect(listed[checked] == id, "rows are in registration order")
            for (k, column) in columns.enumerated() {
                let got = row[Self.letters(k)]
                switch Self.want(column.key, card, segments: segments(id)) {
                case .none where column.key == "joinPlace" || column.key == "addedBy":
                    let profile = view.state.profile(Int(view.state.clientIndex(id)!))
                    let text = column.key == "joinPlace" ? profile.place : profile.addedBy
                    #expect(got.map { Self.unescape($0.text) } == text && (got == nil || got?.type == "inlineStr"), "\(id) \(column.key)")
                case .none:
                    #expect(got == nil, "\(id) \(column.key): \(String(describing: got))")
                case .text(let s):
                    #expect(got?.type == "inlineStr" && got.map { Self.unescape($0.text) } == s, "\(id) \(column.key): \(String(describing: got)) ≠ \(s)")
                case .number(let value, let style):
                    let number = got.flatMap { Double($0.text) }
                    #expect(got?.type == "n" && got?.style == style && number.map { abs($0 - value) < 1e-9 } == true,
                            "\(id) \(column.key): \(String(describing: got)) ≠ \(value) (style \(style))")
                }
            }
            checked += 1
        }
        #expect(checked == listed.count)
        // The odd texts survived XML as they were.
        let oddRow = try #require(reader.rows.first { $0["A"]?.text == "odd" })
        #expect(Self.unescape(oddRow["B"]!.text) == odd && Self.unescape(oddRow["K"]!.text) == "operator \u{1F}")

        // The CSV, in English.
        let csv = dir.path + "/clients.csv"
        try ClientExport.write(view.clientTable(language: .english), format: .csv, to: csv)
        let records = Self.parseCSV(try String(contentsOfFile: csv, encoding: .utf8))
        #expect(records.first == columns.map(\.english))
        #expect(records.count == listed.count + 1)
        for record in records.dropFirst() {
            let card = try #require(view.client(id: record[0]))
            #expect(record.count == columns.count)
            let byKey = Dictionary(uniqueKeysWithValues: zip(columns.map(\.key), record))
            #expect(byKey["name"] == (card.name ?? "") && byKey["gender"] == (card.gender?.rawValue ?? "") && byKey["status"] == card.status.rawValue)
            #expect(byKey["bonusesAvailable"] == String(format: "%.2f", Double(card.balances.available.minorUnits) / 100))
            #expect(byKey["purchaseSum"] == String(format: "%.2f", Double(card.stats.purchaseSum.minorUnits) / 100))
            #expect(byKey["registeredAt"] == card.registeredAt.description)
            #expect(byKey["lastPurchaseAt"] == (card.stats.lastPurchaseAt?.description ?? ""))
            #expect(byKey["segments"] == segments(record[0]).joined(separator: ", "))
        }
        #expect(records.contains { $0[0] == "odd" && $0[1] == odd })

        // More clients than a worksheet holds: refused naming the limit, the file left as it was.
        let before = try Data(contentsOf: URL(fileURLWithPath: xlsx))
        let whole = try view.clientTable()
        #expect(throws: ClientExport.Failure.self) { try ClientExport.write(whole, format: .xlsx, to: xlsx, rowLimit: listed.count) }
        do throws(ClientExport.Failure) { _ = try ClientExport.write(whole, format: .xlsx, to: xlsx, rowLimit: listed.count) } catch {
            #expect(error.message.contains("do not fit in one worksheet (at most \(listed.count - 1) rows"), "\(error)")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: xlsx)) == before)
        #expect(try ClientExport.write(whole, format: .xlsx, to: dir.path + "/exact.xlsx", rowLimit: listed.count + 1) == listed.count)

        // A segment's members only, and a segment and filters together (AND).
        let members = try view.clientTable(segment: "Often")
        #expect(members.count == often.count)
        let filters = try SegmentFilter.parseList(#"[{"field":"gender","op":"in","values":["female"]}]"#)
        let both = try view.clientTable(segment: "Often", filters: filters)
        let women = Set(try view.segmentMembers(filters: filters).clients.map(\.rawValue))
        #expect(both.count == often.intersection(women).count && both.count > 0 && both.count < often.count)
    }

    @Test("ledger export: the file appears whole or not at all; an unknown segment exits 1 and a bad filters file 2, writing nothing")
    func command() throws {
        let dir = TemporaryDirectory()
        let lines = #"{"type":"client.registered","at":"2025-03-01T10:00:00Z","client":"c1","phone":"79160000001"}"# + "\n"
        #expect(Run(["--data", dir.path, "submit"], stdin: lines).status == 0)
        let out = dir.path + "/c.xlsx"
        let done = Run(["--data", dir.path, "export", "--format", "xlsx", "--out", out, "--json"], stdin: "")
        #expect(done.status == 0 && done.json?["clients"] == .integer(1), "\(done.stdout) \(done.stderr)")
        #expect(try Archive(url: URL(fileURLWithPath: out), accessMode: .read)["xl/worksheets/sheet1.xml"] != nil)
        let unknown = Run(["--data", dir.path, "export", "--format", "csv", "--segment", "Nope", "--out", dir.path + "/n.csv"], stdin: "")
        #expect(unknown.status == 1 && unknown.stderr.contains("no segment is named 'Nope'"))
        writeFile(dir.path + "/bad.json", #"[{"field":"shoeSize","op":"eq","values":[42]}]"#)
        let bad = Run(["--data", dir.path, "export", "--format", "csv", "--filters", dir.path + "/bad.json", "--out", dir.path + "/b.csv"], stdin: "")
        #expect(bad.status == 2 && bad.stderr.contains("shoeSize"), "\(bad.stderr)")
        let nowhere = Run(["--data", dir.path, "export", "--format", "csv", "--out", dir.path + "/no/such/dir/c.csv"], stdin: "")
        #expect(nowhere.status == 2 && nowhere.stderr.contains("no/such/dir"), "\(nowhere.stderr)")
        let wrong = Run(["--data", dir.path, "export", "--format", "ods", "--out", out], stdin: "")
        #expect(wrong.status == 2 && wrong.stderr.contains("'ods' is not csv or xlsx"))
        // Nothing half-written or refused was left behind.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        #expect(!files.contains { $0.hasSuffix(".csv") || $0.contains("partial") || $0.contains("sheet") }, "\(files)")
    }

    static let libreOffice = ["/usr/bin/libreoffice", "/usr/local/bin/libreoffice"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("LibreOffice opens the workbook and reads the same values (skipped where LibreOffice is not installed)",
          .enabled(if: libreOffice != nil, "LibreOffice is not installed"))
    func libreOfficeOpensIt() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: SnapshotTests.options)
        try SnapshotTests.run(ledger, SnapshotTests.days(clients: 60, days: 40, seed: 12)[...])
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        try ClientExport.write(view.clientTable(), format: .xlsx, to: dir.path + "/c.xlsx")
        try ClientExport.write(view.clientTable(), format: .csv, to: dir.path + "/ours.csv")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.libreOffice!)
        process.arguments = ["-env:UserInstallation=file://\(dir.path)/lo-profile", "--headless", "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76",
                             "--outdir", dir.path + "/lo", dir.path + "/c.xlsx"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let theirs = Self.parseCSV(try String(contentsOfFile: dir.path + "/lo/c.csv", encoding: .utf8))
        let ours = Self.parseCSV(try String(contentsOfFile: dir.path + "/ours.csv", encoding: .utf8))
        #expect(theirs.count == ours.count && theirs.count > 1)
        // LibreOffice writes moments as shown (`2025-01-01 08:00:06`); ours are ISO 8601.
        for (a, b) in zip(theirs, ours) {
            #expect(a == b.map { $0.count == 20 && $0.hasSuffix("Z") && $0.dropFirst(10).first == "T" ? $0.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "") : $0 })
        }
    }
}
