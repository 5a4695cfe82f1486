import ArgumentParser
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

/// Bytes for standard output, gathered and then written with write(2) in one go (a submit's
/// results: a million lines of them must not cost a String each).
struct OutputBytes {
    private var bytes: [UInt8] = []

    mutating func append(_ text: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func append(_ text: String) { bytes.append(contentsOf: text.utf8) }

    var isEmpty: Bool { bytes.isEmpty }

    /// A number in decimal digits.
    mutating func append(_ value: UInt64) {
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for UInt64.max's 20 digits, written backwards
        withUnsafeMutableBytes(of: &digits) { buffer in
            var k = buffer.count
            var rest = value
            repeat {
                k -= 1
                buffer[k] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            } while rest > 0
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[k...]))
        }
    }

    /// Writes what was gathered (after anything buffered by `print`) and empties it.
    mutating func write() {
        fflush(nil)
        bytes.withUnsafeBytes { all in
            var done = 0
            while done < all.count {
                let written = Glibc.write(1, all.baseAddress! + done, all.count - done)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break }  // standard output is gone: nothing to tell it
                done += written
            }
        }
        bytes.removeAll(keepingCapacity: true)
    }
}

/// A file's text (as UTF-8, bad bytes replaced), or a usage error naming the option and the file.
func readTextFile(_ path: String, option: String) throws -> String {
    guard let file = fopen(path, "r") else { throw ValidationError("\(option): cannot read \(path): \(String(cString: strerror(errno)))") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}
