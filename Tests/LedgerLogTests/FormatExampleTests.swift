import Glibc
import Testing
@testable import LedgerLog

/// Keeps the annotated example of data-format.md true: the code must still write exactly
/// those bytes for the same input.
@Suite("data-format.md")
struct FormatExampleTests {
    static let createdAt: Int64 = 1_735_722_000_000_000  // 2025-01-01T09:00:00Z

    /// The example log: one uncompressed batch of two records, one LZ4 batch of three.
    static func exampleSegment() throws -> [UInt8] {
        let dir = TemporaryDirectory()
        var options = LogOptions(segmentBytes: 4096)
        options.clock = { createdAt }
        let log = try Log(directory: dir.log, options: options)
        let t = createdAt
        try log.append([
            LogRecord(timestamp: t, typeCode: 1, streamKey: Array("c1".utf8), idempotencyKey: Array("op-1".utf8), body: Array("hello".utf8)),
            LogRecord(timestamp: t + 1_000_000, typeCode: 2, streamKey: Array("c1".utf8), body: Array("world".utf8)),
        ])
        let body = Array(String(repeating: "ab", count: 20).utf8)
        try log.append((0..<3).map { i in
            LogRecord(timestamp: t + 60_000_000 + Int64(i), typeCode: 3, streamKey: Array("c2".utf8), body: body)
        })
        let length = log.snapshot.segments[0].dataLength
        try log.close()
        return Array(readFile(segmentFiles(dir.log)[0]).prefix(Int(length)))
    }

    static func hexDump(_ bytes: [UInt8]) -> String {
        func hex(_ v: Int, _ width: Int) -> String {
            let s = String(v, radix: 16)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        var lines: [String] = []
        for start in stride(from: 0, to: bytes.count, by: 16) {
            let row = bytes[start..<min(start + 16, bytes.count)]
            var cells = row.map { hex(Int($0), 2) }
            if cells.count > 8 { cells.insert("", at: 8) }
            var text = ""
            for byte in row { text.append((0x20...0x7E).contains(byte) ? Character(UnicodeScalar(byte)) : ".") }
            var hexCells = cells.joined(separator: " ")
            hexCells += String(repeating: " ", count: max(0, 49 - hexCells.count))
            lines.append(hex(start, 4) + "  " + hexCells + "  " + text)
        }
        return lines.joined(separator: "\n")
    }

    @Test("the hex dump in data-format.md is what the code writes")
    func exampleIsCurrent() throws {
        let dump = Self.hexDump(try Self.exampleSegment())
        let docPath = String(#filePath.split(separator: "/").dropLast(3).joined(separator: "/"))
        let docFile = "/" + docPath + "/data-format.md"
        guard access(docFile, F_OK) == 0 else {
            Issue.record("there is no \(docFile); the code writes:\n\(dump)")
            return
        }
        let doc = String(decoding: readFile(docFile), as: UTF8.self)
        let lines = doc.split(separator: "\n", omittingEmptySubsequences: false)
        guard let begin = lines.firstIndex(of: "<!-- example-dump-begin -->"),
              let end = lines.firstIndex(of: "<!-- example-dump-end -->"), end > begin + 2 else {
            Issue.record("data-format.md has no example dump between its markers")
            return
        }
        // The markers enclose a fenced block: skip the fences.
        let documented = lines[(begin + 2)..<(end - 1)].joined(separator: "\n")
        #expect(documented == dump, "data-format.md's example is stale; the code now writes:\n\(dump)")
    }

    @Test("the example log verifies and reads back")
    func exampleVerifies() throws {
        let bytes = try Self.exampleSegment()
        let dir = TemporaryDirectory()
        _ = try Log(directory: dir.log).close()
        writeFile(segmentFiles(dir.log)[0], bytes)
        let report = try LogReader.verify(directory: dir.log)
        #expect(report.events == 5 && report.batches == 2)
    }
}
