import Glibc
import LedgerDomain

/// The command prints JSON through the domain's `JSONValue` (keys stay in the order given).
typealias JSON = JSONValue

extension JSONValue {
    static func int(_ value: Int64) -> JSONValue { .integer(value) }
    static func uint(_ value: UInt64) -> JSONValue { .integer(Int64(clamping: value)) }
    static func double(_ value: Double) -> JSONValue { .number(value) }
    var rendered: String { text }
}

func printError(_ message: String, newline: Bool = true) {
    var line = message
    if newline && !line.hasSuffix("\n") { line += "\n" }
    line.withCString { text in _ = write(2, text, strlen(text)) }
}

/// A table for people: columns padded to their widest cell.
struct Table {
    var header: [String]
    var rows: [[String]] = []

    var rendered: String {
        var widths = header.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, cell in
                i == cells.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
        }
        return ([line(header), widths.map { String(repeating: "─", count: $0) }.joined(separator: "  ")] + rows.map(line)).joined(separator: "\n")
    }
}

/// A number with thousands separators, for people.
func grouped(_ value: some BinaryInteger) -> String {
    let digits = String(value)
    var out = ""
    for (i, ch) in digits.reversed().enumerated() {
        if i > 0 && i % 3 == 0 && ch != "-" { out.append(" ") }
        out.append(ch)
    }
    return String(out.reversed())
}

func seconds(since start: UInt64) -> Double { Double(monotonicNanos() - start) / 1e9 }

func monotonicNanos() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}
