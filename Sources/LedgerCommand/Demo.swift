import ArgumentParser
import Glibc
import LedgerLog

/// The log alone: a million events written, reopened, verified, scanned, seeked.
struct LogDemo {
    var data: String
    var events: Int = 1_000_000
    var batch: Int = 1000

    func run() throws {
        SystemCalls.removeTree(data)
        print("Log demo in \(data): \(grouped(events)) events of 48-byte bodies, \(grouped(batch)) a batch, durable (fdatasync per commit).")
        var start = monotonicNanos()
        let log = try Log(directory: data, options: LogOptions(segmentBytes: 64 * 1024 * 1024))
        let builder = RecordBatchBuilder()
        var body = [UInt8](repeating: 0, count: 48)
        var time = wallClockMicros()
        var written = 0
        while written < events {
            builder.reset()
            for i in 0..<min(batch, events - written) {
                time += 1000
                let n = written + i
                for k in 0..<48 { body[k] = UInt8(truncatingIfNeeded: (n &* 31) &+ k % 7) }
                let key = "client-\(n % 10_000)"
                try key.utf8.withContiguousStorageIfAvailable { keyBytes in
                    try body.withUnsafeBytes { try builder.append(timestamp: time, typeCode: UInt32(n % 12), streamKey: UnsafeRawBufferPointer(keyBytes), body: $0) }
                }!
            }
            try log.append(builder)
            written += Int(builder.count)
        }
        try log.close()
        let writeSeconds = seconds(since: start)
        print("  wrote   \(grouped(written)) events in \(format2(writeSeconds)) s: \(grouped(Int(Double(written) / writeSeconds))) events/s durable")

        start = monotonicNanos()
        let reopened = try Log(directory: data)
        let openSeconds = seconds(since: start)
        print("  reopened in \(format2(openSeconds * 1000)) ms: \(reopened.recovery.segments) segments, \(grouped(reopened.endPosition)) events, \(reopened.recovery.cut == nil ? "no torn tail" : "a torn tail was cut")")

        start = monotonicNanos()
        let report = try LogReader.verify(directory: data)
        print("  verify  \(grouped(report.events)) events, \(grouped(report.batches)) batches, \(grouped(report.bytes)) bytes on disk in \(format2(seconds(since: start))) s: every checksum and the chain hold")

        start = monotonicNanos()
        var count = 0
        var bodyBytes = 0
        try reopened.reader().scan { record in
            count += 1
            bodyBytes += record.body.count
            return true
        }
        let scanSeconds = seconds(since: start)
        print("  scan    \(grouped(count)) events in \(format2(scanSeconds)) s: \(grouped(Int(Double(count) / scanSeconds))) events/s")

        let middle = UInt64(events / 2)
        if let record = try reopened.reader().record(at: middle) {
            let seeked = try reopened.reader().position(atOrAfterTimestamp: record.timestamp)
            print("  seek    position \(grouped(middle)) → stream \(record.streamKeyString), type \(record.typeCode); its timestamp seeks back to position \(grouped(seeked))")
        }
        print("  on disk \(format2(Double(report.bytes) / Double(report.events))) bytes/event (LZ4, with headers and index)")
        try reopened.close()
    }
}

func format2(_ value: Double) -> String {
    let scaled = (value * 100).rounded() / 100
    var text = String(scaled)
    if let dot = text.firstIndex(of: ".") {
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        if decimals < 2 { text += String(repeating: "0", count: 2 - decimals) }
    }
    return text
}

