import Glibc
import LedgerLog

/// A deterministic generator (SplitMix64): a seed reproduces a run exactly.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func bytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

/// A fresh directory under /tmp, removed when the test is done with it.
final class TemporaryDirectory {
    let path: String
    init(_ name: String = #function) {
        var template = Array("/tmp/ledger-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }
    var log: String { path + "/log" }
    deinit { SystemCalls.removeTree(path) }
}


func readFile(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY)
    precondition(fd >= 0, "cannot open \(path)")
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        bytes += chunk[0..<n]
    }
    return bytes
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    precondition(fd >= 0)
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}

func fileNames(_ directory: String) -> [String] {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.baseAddress!.assumingMemoryBound(to: CChar.self)) }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}

/// A record with recognisable content: its body names its batch and index.
func sampleRecord(batch: Int, index: Int, timestamp: Int64, random: inout SeededRandom) -> LogRecord {
    var body = Array("b\(batch)-i\(index)|".utf8)
    body += random.bytes(Int.random(in: 0...60, using: &random))
    return LogRecord(timestamp: timestamp, typeCode: UInt32(index % 5), streamKey: Array("client-\(batch % 7)".utf8),
                     idempotencyKey: index % 3 == 0 ? Array("key-\(batch)-\(index)".utf8) : nil, body: body)
}

/// Appends `batches` batches of `perBatch` records; returns what was appended, positions set.
@discardableResult
func appendSamples(_ log: Log, batches: Int, perBatch: Int, seed: UInt64 = 1, startTime: Int64 = 1_700_000_000_000_000) throws -> [[LogRecord]] {
    var random = SeededRandom(seed: seed)
    var time = max(startTime, log.snapshot.lastTimestamp ?? startTime)
    var all: [[LogRecord]] = []
    for b in 0..<batches {
        var records: [LogRecord] = []
        for i in 0..<perBatch {
            time += Int64.random(in: 0...5000, using: &random)
            records.append(sampleRecord(batch: b, index: i, timestamp: time, random: &random))
        }
        let range = try log.append(records)
        for (i, position) in range.enumerated() { records[i].position = position }
        all.append(records)
    }
    return all
}

func readAll(_ reader: LogReader, from position: UInt64 = 0) throws -> [LogRecord] {
    var records: [LogRecord] = []
    try reader.scan(from: position) { records.append($0.owned()); return true }
    return records
}

func segmentFiles(_ directory: String) -> [String] { fileNames(directory).filter { $0.hasSuffix(".seg") }.map { directory + "/" + $0 } }
