import Foundation
import Ledger
import LedgerDomain
import ZIPFoundation

/// The xlsx workbook: one worksheet of the client list (Office Open XML SpreadsheetML, the
/// parts every reader needs and no more), zipped with ZIPFoundation.
///
/// Cells keep their types: texts are inline strings, counts numbers, amounts numbers shown
/// with two decimals, days and moments Excel date serials (days since 1899-12-30, UTC) shown
/// as `yyyy-mm-dd` and `yyyy-mm-dd hh:mm:ss`; a day before 1900-03-01, which Excel's 1900
/// calendar counts wrong, is written as its ISO text. The header row is bold and frozen.
/// Characters XML 1.0 cannot hold (control characters) are written as `_xHHHH_`, and an
/// underscore that would start such a sequence as `_x005F_`, as SpreadsheetML escapes them.
enum Workbook {
    /// Style indexes (`cellXfs` in styles.xml).
    enum Style: Int { case plain = 0, header, amount, day, time }

    /// Days from Excel's day 0 (1899-12-30) to 1970-01-01.
    static let serialOf1970: Int64 = 25_569
    /// 1900-03-01, the first day Excel's serials count right.
    static let firstExactDay: Int64 = -25_508

    static func write(_ table: ClientTable, to url: URL) throws {
        let sheetURL = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).sheet-\(getpid()).xml")
        defer { try? FileManager.default.removeItem(at: sheetURL) }
        let sink = try Sink(sheetURL)
        try writeSheet(table, into: sink)
        try sink.close()

        let archive = try Archive(url: url, accessMode: .create)
        let date = Date(timeIntervalSince1970: Double(table.asOf.microsecondsSince1970 / 1_000_000))
        func add(_ path: String, _ text: String) throws {
            let data = Data(text.utf8)
            try archive.addEntry(with: path, type: .file, uncompressedSize: Int64(data.count), modificationDate: date,
                                 compressionMethod: .deflate) { position, size in
                data.subdata(in: Int(position)..<Int(position) + size)
            }
        }
        try add("[Content_Types].xml", contentTypes)
        try add("_rels/.rels", packageRelationships)
        try add("xl/workbook.xml", workbook(sheetName: table.language == .russian ? "Клиенты" : "Clients"))
        try add("xl/_rels/workbook.xml.rels", workbookRelationships)
        try add("xl/styles.xml", styles)
        let reader = try FileHandle(forReadingFrom: sheetURL)
        defer { try? reader.close() }
        let size = try reader.seekToEnd()
        try reader.seek(toOffset: 0)
        try archive.addEntry(with: "xl/worksheets/sheet1.xml", type: .file, uncompressedSize: Int64(size), modificationDate: date,
                             compressionMethod: .deflate, bufferSize: 1 << 20) { _, size in
            try reader.read(upToCount: size) ?? Data()
        }
    }

    static func writeSheet(_ table: ClientTable, into sink: Sink) throws {
        let columns = ClientTable.columns.count
        sink.append(xmlDeclaration)
        sink.append("<worksheet xmlns=\"\(mainNamespace)\"><dimension ref=\"A1:\(column(columns - 1))\(table.count + 1)\"/>")
        sink.append("<sheetViews><sheetView workbookViewId=\"0\"><pane ySplit=\"1\" topLeftCell=\"A2\" activePane=\"bottomLeft\" state=\"frozen\"/></sheetView></sheetViews>")
        sink.append("<sheetFormatPr defaultRowHeight=\"15\"/><cols><col min=\"1\" max=\"\(columns)\" width=\"18\" customWidth=\"1\"/></cols><sheetData>")
        var line: [UInt8] = []
        line.reserveCapacity(4_096)
        var row = 1
        line.append(contentsOf: "<row r=\"1\">".utf8)
        for (k, c) in ClientTable.columns.enumerated() { cell(.text(c.title(table.language)), column: k, row: 1, style: .header, into: &line) }
        line.append(contentsOf: "</row>".utf8)
        sink.append(line)
        try table.forEachRow { cells in
            row += 1
            line.removeAll(keepingCapacity: true)
            line.append(contentsOf: "<row r=\"\(row)\">".utf8)
            for (k, value) in cells.enumerated() { cell(value, column: k, row: row, style: nil, into: &line) }
            line.append(contentsOf: "</row>".utf8)
            sink.append(line)
            try sink.flushIfFull()
        }
        sink.append("</sheetData></worksheet>")
    }

    /// One `<c>`: nothing for an empty cell.
    static func cell(_ value: ClientTable.Cell, column k: Int, row: Int, style: Style?, into out: inout [UInt8]) {
        func open(_ type: String?, _ s: Style?) {
            out.append(contentsOf: "<c r=\"\(column(k))\(row)\"".utf8)
            if let type { out.append(contentsOf: " t=\"\(type)\"".utf8) }
            if let s, s != .plain { out.append(contentsOf: " s=\"\(s.rawValue)\"".utf8) }
            out.append(UInt8(ascii: ">"))
        }
        func number(_ text: String, _ s: Style) {
            open(nil, s)
            out.append(contentsOf: "<v>\(text)</v></c>".utf8)
        }
        switch value {
        case .empty:
            return
        case .text(let s):
            open("inlineStr", style)
            let spaced = s.first == " " || s.last == " " || s.first == "\t" || s.last == "\n"
            out.append(contentsOf: (spaced ? "<is><t xml:space=\"preserve\">" : "<is><t>").utf8)
            escape(s, into: &out)
            out.append(contentsOf: "</t></is></c>".utf8)
        case .integer(let n):
            number(String(n), style ?? .plain)
        case .hundredths(let n):
            number(CSV.decimal(n), .amount)
        case .day(let d):
            if d < firstExactDay { return cell(.text(Time.isoDate(day: d)), column: k, row: row, style: style, into: &out) }
            number(String(d + serialOf1970), .day)
        case .time(let t):
            let day = Time.day(of: t)
            if day < firstExactDay { return cell(.text(Time.iso(t)), column: k, row: row, style: style, into: &out) }
            let seconds = (t - day * Time.microsPerDay) / 1_000_000
            number(String(Double(day + serialOf1970) + Double(seconds) / 86_400), .time)
        }
    }

    /// `k` (from 0) as a column's letters: A … Z, AA, AB, ….
    static func column(_ k: Int) -> String {
        var n = k + 1, letters: [Character] = []
        while n > 0 {
            n -= 1
            letters.append(Character(Unicode.Scalar(UInt8(65 + n % 26))))
            n /= 26
        }
        return String(letters.reversed())
    }

    /// Text as XML character data of SpreadsheetML (see the type's comment).
    static func escape(_ s: String, into out: inout [UInt8]) {
        let bytes = Array(s.utf8)
        var k = 0
        while k < bytes.count {
            let b = bytes[k]
            switch b {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case 9, 10, 13: out.append(b)
            case 0..<32: out.append(contentsOf: "_x00\(b < 16 ? "0" : "")\(String(b, radix: 16, uppercase: true))_".utf8)
            case UInt8(ascii: "_") where looksEscaped(bytes, k): out.append(contentsOf: "_x005F_".utf8)
            default: out.append(b)
            }
            k += 1
        }
    }

    /// Whether `_xHHHH_` starts at `k`.
    static func looksEscaped(_ bytes: [UInt8], _ k: Int) -> Bool {
        guard k + 6 < bytes.count, bytes[k + 1] == UInt8(ascii: "x"), bytes[k + 6] == UInt8(ascii: "_") else { return false }
        return bytes[(k + 2)...(k + 5)].allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 70) || ($0 >= 97 && $0 <= 102) }
    }

    static let xmlDeclaration = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n"
    static let mainNamespace = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    static let relationshipNamespace = "http://schemas.openxmlformats.org/package/2006/relationships"
    static let officeRelationships = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    static let contentTypes = xmlDeclaration + """
        <Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\
        <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\
        <Default Extension="xml" ContentType="application/xml"/>\
        <Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>\
        <Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>\
        <Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>\
        </Types>
        """

    static let packageRelationships = xmlDeclaration + """
        <Relationships xmlns="\(relationshipNamespace)">\
        <Relationship Id="rId1" Type="\(officeRelationships)/officeDocument" Target="xl/workbook.xml"/>\
        </Relationships>
        """

    static func workbook(sheetName: String) -> String {
        xmlDeclaration + """
            <workbook xmlns="\(mainNamespace)" xmlns:r="\(officeRelationships)">\
            <sheets><sheet name="\(sheetName)" sheetId="1" r:id="rId1"/></sheets></workbook>
            """
    }

    static let workbookRelationships = xmlDeclaration + """
        <Relationships xmlns="\(relationshipNamespace)">\
        <Relationship Id="rId1" Type="\(officeRelationships)/worksheet" Target="worksheets/sheet1.xml"/>\
        <Relationship Id="rId2" Type="\(officeRelationships)/styles" Target="styles.xml"/>\
        </Relationships>
        """

    /// The styles of ``Style``, in its order: plain, bold, `0.00`, a date, a date and time.
    static let styles = xmlDeclaration + """
        <styleSheet xmlns="\(mainNamespace)">\
        <numFmts count="3"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/><numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm:ss"/>\
        <numFmt numFmtId="166" formatCode="0.00"/></numFmts>\
        <fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>\
        <fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>\
        <borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>\
        <cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>\
        <cellXfs count="5">\
        <xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
        <xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>\
        <xf numFmtId="166" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
        <xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
        <xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
        </cellXfs>\
        <cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>\
        </styleSheet>
        """
}
