import Glibc
import Testing
@testable import LedgerLog

@Suite("Recovery and verification")
struct RecoveryTests {
    /// A small log with several batches in one segment; returns the path of its segment,
    /// where its last batch starts and ends, and the records before it.
    func smallLog(_ dir: TemporaryDirectory, batches: Int = 6) throws -> (segment: String, lastStart: UInt64, lastEnd: UInt64, earlier: [LogRecord]) {
        let log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 64 * 1024))
        let all = try appendSamples(log, batches: batches, perBatch: 4)
        let segment = log.snapshot.segments.last!
        try log.close()
        return (segmentFiles(dir.log).last!, segment.lastBatchOffset, segment.dataLength, all.dropLast().flatMap { $0 })
    }

    @Test("a torn tail is cut back to the last whole batch, at every byte offset inside the last batch")
    func tornTailAtEveryOffset() throws {
        let dir = TemporaryDirectory()
        let (segment, lastStart, lastEnd, earlier) = try smallLog(dir)
        let original = readFile(segment)
        for cut in lastStart..<lastEnd {
            writeFile(segment, Array(original[0..<Int(cut)]))  // the segment cut at this byte
            for name in fileNames(dir.log) where name.contains(".cut-") { unlink(dir.log + "/" + name) }
            let log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 64 * 1024))
            #expect(log.endPosition == UInt64(earlier.count), "cut at \(cut)")
            #expect(try readAll(log.reader()) == earlier)
            if cut > lastStart {
                #expect(log.recovery.cut?.offset == lastStart, "cut at \(cut) reported \(String(describing: log.recovery.cut))")
                #expect(readFile(log.recovery.cut!.preservedAt) == Array(Array(original[Int(lastStart)..<Int(cut)]).reversed().drop { $0 == 0 }.reversed()))
            } else {
                #expect(log.recovery.cut == nil)
            }
            try log.close()
            #expect(try LogReader.verify(directory: dir.log).events == UInt64(earlier.count))
        }
    }

    @Test("flipping any single bit of a small log is caught by verify")
    func everyBitFlipIsCaught() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 1024))
        try appendSamples(log, batches: 12, perBatch: 3)
        try log.close()
        _ = try LogReader.verify(directory: dir.log)
        let files = segmentFiles(dir.log)
        #expect(files.count >= 2)
        let lastDataEnd = try LogReader(directory: dir.log).snapshot.segments.last!.dataLength
        var flips = 0
        for file in files {
            let original = readFile(file)
            for bit in 0..<(original.count * 8) {
                var damaged = original
                damaged[bit / 8] ^= UInt8(1 << (bit % 8))
                writeFile(file, damaged)
                if file == files.last!, UInt64(bit / 8) >= lastDataEnd + UInt64(BatchHeader.byteCount) {
                    // Past the last batch of the last segment and where its next header would be:
                    // bytes no acknowledged write left, which the writer cuts as a torn tail.
                    // verify names them, and does not fail. (A bit in the next header's place is
                    // a header whose every byte was written: damage, as the writer judges it.)
                    #expect(try LogReader.verify(directory: dir.log).tornTail?.offset == lastDataEnd, "bit \(bit) of \(file)")
                } else {
                    #expect(throws: LogError.self, "bit \(bit) of \(file)") { try LogReader.verify(directory: dir.log) }
                }
                flips += 1
            }
            writeFile(file, original)
        }
        #expect(flips > 8 * 2048)
        _ = try LogReader.verify(directory: dir.log)
    }

    @Test("damage before the tail is never cut: open fails naming the file and byte offset")
    func damageInTheMiddleFailsOpen() throws {
        let dir = TemporaryDirectory()
        let (segment, _, _, _) = try smallLog(dir, batches: 8)
        var bytes = readFile(segment)
        let target = 64 + 70  // inside the first batch
        bytes[target] ^= 0x10
        writeFile(segment, bytes)
        do {
            _ = try Log(directory: dir.log)
            Issue.record("a log damaged in the middle opened")
        } catch let error as LogError {
            #expect(error.code == .corrupt)
            #expect(error.file == segment)
            #expect(error.offset != nil)
        }
        #expect(readFile(segment) == bytes, "a failed open changes nothing")
    }

    @Test("a damaged sealed segment fails open; a damaged index is rebuilt from the data")
    func sealedSegmentsAndIndexes() throws {
        let dir = TemporaryDirectory()
        var log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 1024))
        let all = try appendSamples(log, batches: 20, perBatch: 3).flatMap { $0 }
        try log.close()
        let index = dir.log + "/" + fileNames(dir.log).first { $0.hasSuffix(".idx") }!
        var bytes = readFile(index)
        bytes[bytes.count - 3] ^= 1
        writeFile(index, bytes)
        log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 1024))
        #expect(log.recovery.rebuiltIndexes == [index])
        #expect(try readAll(log.reader()) == all)
        try log.close()
        unlink(index)
        log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 1024))
        #expect(log.recovery.rebuiltIndexes == [index])
        try log.close()

        let sealed = segmentFiles(dir.log)[0]
        var segment = readFile(sealed)
        segment[segment.count - 5] ^= 4
        writeFile(sealed, segment)
        unlink(index)
        #expect(throws: LogError.self) { try Log(directory: dir.log, options: LogOptions(segmentBytes: 1024)) }
    }

    @Test("a torn batch followed by a whole one of the same unacknowledged write is a torn tail; one written later is damage")
    func pageReorderedTail() throws {
        let dir = TemporaryDirectory()
        let (segment, lastStart, lastEnd, earlier) = try smallLog(dir)
        let original = readFile(segment)
        // Put a copy of the last batch after itself, as though both were one group's write,
        // then tear the first: the second was written with the same acknowledged position.
        var bytes = original
        let last = Array(original[Int(lastStart)..<Int(lastEnd)])
        bytes.replaceSubrange(Int(lastEnd)..<(Int(lastEnd) + last.count), with: last)
        // Tear the first: its last sector never reached the disk (reads as zeros).
        let sector = max(Int(lastStart) + 1, (Int(lastEnd) - 1) / 512 * 512)
        for i in sector..<Int(lastEnd) { bytes[i] = 0 }
        writeFile(segment, bytes)
        let log = try Log(directory: dir.log)
        #expect(log.endPosition == UInt64(earlier.count))
        #expect(log.recovery.cut?.offset == lastStart)
        try log.close()

        // Now a later batch claims the damaged one had been acknowledged: that is damage.
        let dir2 = TemporaryDirectory()
        let log2 = try Log(directory: dir2.log, options: LogOptions(segmentBytes: 64 * 1024))
        try appendSamples(log2, batches: 6, perBatch: 4)
        let secondLast = log2.snapshot.segments.last!.lastBatchOffset
        try appendSamples(log2, batches: 1, perBatch: 4, seed: 5)
        try log2.close()
        let file2 = segmentFiles(dir2.log).last!
        var bytes2 = readFile(file2)
        bytes2[Int(secondLast) + 70] ^= 0xFF
        writeFile(file2, bytes2)
        do {
            _ = try Log(directory: dir2.log)
            Issue.record("opened")
        } catch let error as LogError {
            #expect(error.code == .corrupt)
            #expect(error.message.contains("acknowledged"))
        }
    }

    @Test("a bit flipped in the last batch is damage, not a torn write: open fails and changes nothing")
    func bitFlipInTheLastBatch() throws {
        let dir = TemporaryDirectory()
        let (segment, lastStart, _, _) = try smallLog(dir)
        var bytes = readFile(segment)
        bytes[Int(lastStart) + 70] ^= 0x04
        writeFile(segment, bytes)
        do {
            _ = try Log(directory: dir.log)
            Issue.record("a damaged last batch was cut as if torn")
        } catch let error as LogError {
            #expect(error.code == .corrupt && error.offset == lastStart && error.message.contains("not a torn write"))
        }
        #expect(readFile(segment) == bytes)
    }

    @Test("stray bytes after the last batch are reported by verify as a torn tail and cut by open")
    func strayBytesAfterTheEnd() throws {
        let dir = TemporaryDirectory()
        let (segment, _, lastEnd, _) = try smallLog(dir)
        var bytes = readFile(segment)
        bytes[Int(lastEnd) + 100] = 0x55
        writeFile(segment, bytes)
        // Bytes no acknowledged write left: verify names them as the torn tail the writer will
        // cut (exit 0 for `ledger verify`), not damage.
        #expect(try LogReader.verify(directory: dir.log).tornTail?.offset == lastEnd)
        let log = try Log(directory: dir.log)
        #expect(log.recovery.cut?.offset == lastEnd)
        try log.close()
        _ = try LogReader.verify(directory: dir.log)
    }

    @Test("a segment whose creation a crash interrupted is set aside, and the log goes on")
    func tornSegmentCreation() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 1024))
        let all = try appendSamples(log, batches: 10, perBatch: 3).flatMap { $0 }
        let last = log.snapshot.segments.last!
        let lastNumber = last.number
        try log.close()
        // A roll seals the old segment (cut to its data and synced) before it creates the next.
        let sealedPath = segmentFiles(dir.log).last!
        writeFile(sealedPath, Array(readFile(sealedPath)[0..<Int(last.dataLength)]))
        let next = dir.log + "/" + String(repeating: "0", count: 20 - String(lastNumber + 1).count) + String(lastNumber + 1) + ".seg"
        writeFile(next, [0x4C, 0x53, 0x45] + [UInt8](repeating: 0, count: 200))  // a header cut short
        let reopened = try Log(directory: dir.log, options: LogOptions(segmentBytes: 1024))
        #expect(reopened.recovery.cut?.preservedAt == next + ".torn")
        #expect(try readAll(reopened.reader()) == all)
        try appendSamples(reopened, batches: 5, perBatch: 3, seed: 3)
        try reopened.close()
        _ = try LogReader.verify(directory: dir.log)
    }
}
