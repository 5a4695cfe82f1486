import Foundation
import Ledger
import LedgerDomain
import ZIPFoundation

/// Writes a ``Ledger/ClientTable`` to a file: CSV, or an xlsx workbook (Office Open XML,
/// zipped by ZIPFoundation). The file appears whole or not at all: it is written beside its
/// final name and renamed over it at the end, so a failure leaves whatever was there before.
public enum ClientExport {
    public enum Format: String, Sendable, CaseIterable {
        case csv, xlsx
    }

    /// Why an export was not written, naming the file or the limit.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// The most rows a worksheet holds (Excel's limit; the header takes one).
    public static let xlsxRowLimit = 1_048_576

    /// Writes `table` as `format` to `path`; the number of clients written.
    @discardableResult
    public static func write(_ table: ClientTable, format: Format, to path: String) throws(Failure) -> Int {
        try write(table, format: format, to: path, rowLimit: xlsxRowLimit)
    }

    /// The same with another worksheet row limit (a test's).
    static func write(_ table: ClientTable, format: Format, to path: String, rowLimit: Int) throws(Failure) -> Int {
        if format == .xlsx && table.count + 1 > rowLimit {
            throw Failure(message: "\(table.count) clients do not fit in one worksheet (at most \(rowLimit - 1) rows under the header); export them as csv, or narrow them with --segment or --filters")
        }
        let url = URL(fileURLWithPath: path)
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).partial-\(getpid())")
        defer { try? FileManager.default.removeItem(at: partial) }
        do {
            switch format {
            case .csv:
                let sink = try Sink(partial)
                sink.append(CSV.header(table))
                try table.forEachRow { sink.append(CSV.row($0)); try sink.flushIfFull() }
                try sink.close()
            case .xlsx:
                try Workbook.write(table, to: partial)
            }
            guard rename(partial.path, url.path) == 0 else {
                throw Failure(message: "cannot move the export into \(path): \(String(cString: strerror(errno)))")
            }
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(message: "cannot write \(path): \(error)")
        }
        return table.count
    }
}

/// Bytes appended to a file through a buffer of about a megabyte.
final class Sink {
    let handle: FileHandle
    let path: String
    var buffer: [UInt8] = []

    init(_ url: URL) throws(ClientExport.Failure) {
        path = url.path
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw ClientExport.Failure(message: "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        self.handle = handle
        buffer.reserveCapacity(1 << 20 + 65_536)
    }

    func append(_ text: String) { buffer.append(contentsOf: text.utf8) }
    func append(_ bytes: [UInt8]) { buffer.append(contentsOf: bytes) }

    func flushIfFull() throws { if buffer.count >= 1 << 20 { try flush() } }

    func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try handle.synchronize()
        try handle.close()
    }
}

/// RFC 4180 CSV in UTF-8 with a byte order mark (so that Excel reads Cyrillic right): comma
/// separated, CRLF line ends, a field quoted when it holds a comma, a quote, a line break or
/// leading or trailing spaces, quotes doubled. Amounts are written with two decimals and a
/// point (`1234.50`), days as `2025-01-16`, moments as ISO 8601 in UTC.
enum CSV {
    static func header(_ table: ClientTable) -> String {
        "\u{FEFF}" + ClientTable.columns.map { field($0.title(table.language)) }.joined(separator: ",") + "\r\n"
    }

    static func row(_ cells: [ClientTable.Cell]) -> String {
        cells.map { field(text($0)) }.joined(separator: ",") + "\r\n"
    }

    /// A cell as the CSV writes it (before quoting).
    static func text(_ cell: ClientTable.Cell) -> String {
        switch cell {
        case .text(let s): s
        case .integer(let n): String(n)
        case .hundredths(let n): decimal(n)
        case .day(let d): Time.isoDate(day: d)
        case .time(let t): Time.iso(t)
        case .empty: ""
        }
    }

    /// Hundredths as a decimal with two places, exactly (no floating point).
    static func decimal(_ n: Int64) -> String {
        let magnitude = n.magnitude
        let cents = magnitude % 100
        return (n < 0 ? "-" : "") + String(magnitude / 100) + (cents < 10 ? ".0" : ".") + String(cents)
    }

    static func field(_ s: String) -> String {
        let needsQuotes = s.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 10 || $0 == 13 }
            || s.first == " " || s.last == " "
        return needsQuotes ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
