import Glibc
import Synchronization
import Testing
@testable import LedgerLog

@Suite("The log")
struct LogTests {
    @Test("what is appended reads back the same, before and after reopening")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log)
        let batches = try appendSamples(log, batches: 30, perBatch: 17)
        let expected = batches.flatMap { $0 }
        #expect(try readAll(log.reader()) == expected)
        try log.close()
        let reopened = try Log(directory: dir.log)
        #expect(reopened.recovery.cut == nil)
        #expect(reopened.endPosition == UInt64(expected.count))
        #expect(try readAll(reopened.reader()) == expected)
        #expect(try readAll(LogReader(directory: dir.log)) == expected)
        let report = try LogReader.verify(directory: dir.log)
        #expect(report.events == UInt64(expected.count) && report.batches == 30)
    }

    @Test("positions are gap-free and continue after reopening")
    func positionsContinue() throws {
        let dir = TemporaryDirectory()
        var log = try Log(directory: dir.log)
        let first = try log.append([LogRecord(timestamp: 1, typeCode: 1, body: [1]), LogRecord(timestamp: 2, typeCode: 1, body: [2])])
        #expect(first == 0..<2)
        try log.close()
        log = try Log(directory: dir.log)
        #expect(try log.append([LogRecord(timestamp: 3, typeCode: 1, body: [3])]) == 2..<3)
    }

    @Test("a second writer is refused with an error that says so")
    func secondWriterRefused() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log)
        do {
            _ = try Log(directory: dir.log)
            Issue.record("a second writer opened the log")
        } catch let error as LogError {
            #expect(error.code == .locked)
            #expect(error.description.contains("another writer"))
        }
        try log.close()
        _ = try Log(directory: dir.log)  // free again once closed
    }

    @Test("files are 0600 and the directory 0700")
    func permissions() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log)
        try appendSamples(log, batches: 1, perBatch: 1)
        var info = stat()
        stat(dir.log, &info)
        #expect(info.st_mode & 0o777 == 0o700)
        for file in segmentFiles(dir.log) {
            stat(file, &info)
            #expect(info.st_mode & 0o777 == 0o600)
        }
    }

    @Test("a reader starts the last segment where a clean close's index left it, and reads on past it; the writer and verify still read it all")
    func lastSegmentPrefixIndex() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log)
        let first = try appendSamples(log, batches: 20, perBatch: 5).flatMap { $0 }
        try log.close()
        let index = dir.log + "/00000000000000000000.idx"
        #expect(access(index, F_OK) == 0, "a clean close indexes the last segment")
        // More appended by a writer that then stops without closing: the index is a prefix.
        let writer = try Log(directory: dir.log)
        let later = try appendSamples(writer, batches: 5, perBatch: 5, seed: 9).flatMap { $0 }
        let reader = try LogReader(directory: dir.log)
        #expect(reader.snapshot.endPosition == UInt64(first.count + later.count))
        #expect(try readAll(reader, from: 0) == first + later, "the reader read past the index's end")
        try writer.close()
        // Damage inside the indexed prefix: the reader's open trusts the index, as it trusts a
        // sealed segment's, and the damaged batch fails when read; verify and the writer find it.
        let segment = dir.log + "/00000000000000000000.seg"
        var bytes = readFile(segment)
        bytes[64 + 70] ^= 0x10
        writeFile(segment, bytes)
        let trusting = try LogReader(directory: dir.log)
        #expect(trusting.snapshot.endPosition == UInt64(first.count + later.count))
        #expect(throws: LogError.self) { try readAll(trusting, from: 0) }
        #expect(throws: LogError.self) { try LogReader.verify(directory: dir.log) }
        #expect(throws: LogError.self) { try Log(directory: dir.log) }
    }

    @Test("segments roll at the size limit, and seeks by position and time work across them")
    func rollAndSeek() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 2048))
        let all = try appendSamples(log, batches: 60, perBatch: 5).flatMap { $0 }
        try log.close()
        let reopened = try Log(directory: dir.log, options: LogOptions(segmentBytes: 2048))
        #expect(reopened.snapshot.segments.count > 5)
        // Every sealed segment's index, and the last one's up to where the clean close left it.
        #expect(fileNames(dir.log).filter { $0.hasSuffix(".idx") }.count == reopened.snapshot.segments.count)
        let reader = reopened.reader()
        for record in all {
            #expect(try reader.record(at: record.position) == record)
            let first = all.first { $0.timestamp >= record.timestamp }!
            #expect(try reader.position(atOrAfterTimestamp: record.timestamp) == first.position)
            #expect(try readAll(reader, from: record.position).count == all.count - Int(record.position))
        }
        #expect(try reader.position(atOrAfterTimestamp: all.last!.timestamp + 1) == UInt64(all.count))
        #expect(try reader.position(atOrAfterTimestamp: Int64.min) == 0)
        #expect(try reader.record(at: UInt64(all.count)) == nil)
    }

    @Test("a batch that would not fit in any segment is a typed error, not a crash")
    func batchLargerThanSegment() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 1024, compression: .none))
        do {
            try log.append([LogRecord(timestamp: 1, typeCode: 1, body: [UInt8](repeating: 7, count: 2000))])
            Issue.record("accepted")
        } catch { #expect(error.code == .limitExceeded) }
        #expect(try log.append([LogRecord(timestamp: 1, typeCode: 1, body: [1])]) == 0..<1)
    }

    @Test("an earlier timestamp than the log's last event is refused and appends nothing")
    func timestampRegression() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log)
        try log.append([LogRecord(timestamp: 100, typeCode: 1, body: [])])
        do {
            try log.append([LogRecord(timestamp: 99, typeCode: 1, body: [])])
            Issue.record("accepted")
        } catch { #expect(error.code == .timestampRegression) }
        #expect(log.endPosition == 1)
    }

    @Test("timestamps at Int64's two ends in one batch (a span past 2^63 µs) are written, read back and verified")
    func extremeTimestamps() throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log)
        let records = [Int64.min, -1, 0, Int64.max].map { LogRecord(timestamp: $0, typeCode: 1, body: [1]) }
        try log.append(records)
        #expect(try readAll(log.reader()).map(\.timestamp) == records.map(\.timestamp))
        try log.close()
        #expect(try readAll(Log(directory: dir.log).reader()).map(\.timestamp) == records.map(\.timestamp))
        #expect(try LogReader.verify(directory: dir.log).events == 4)
    }

    @Test("a reader running beside a busy writer only ever sees whole batches")
    func readerSeesWholeBatches() async throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log, options: LogOptions(segmentBytes: 64 * 1024, durability: .none))
        let perBatch = 13
        let done = Atomic<Bool>(false)
        let writer = Task.detached {
            defer { done.store(true, ordering: .releasing) }
            try appendSamples(log, batches: 400, perBatch: perBatch)
        }
        var looks = 0
        while !done.load(ordering: .acquiring) || looks == 0 {
            let reader = log.reader()
            let records = try readAll(reader)
            #expect(records.count % perBatch == 0, "a scan saw \(records.count) records, not whole batches of \(perBatch)")
            for (i, record) in records.enumerated() { #expect(record.position == UInt64(i)) }
            looks += 1
        }
        try await writer.value
        #expect(try readAll(log.reader()).count == 400 * perBatch)
    }

    @Test("64 concurrent callers share syncs through group commit and get disjoint positions")
    func groupCommit() async throws {
        let dir = TemporaryDirectory()
        // Counts calls, injects nothing, and makes each sync take 2 ms as on a slow disk, so
        // callers pile up behind it whatever this machine's disk does.
        let faults = FaultPlan { call, _ in
            if call == .fdatasync { usleep(2000) }
            return nil
        }
        let log = try Log(directory: dir.log, options: LogOptions(syscalls: SystemCalls(faults: faults)))
        let syncsBefore = faults.calls(of: .fdatasync)
        let ranges = try await withThrowingTaskGroup(of: [Range<UInt64>].self) { group in
            for caller in 0..<64 {
                group.addTask {
                    var mine: [Range<UInt64>] = []
                    for i in 0..<20 {
                        let builder = RecordBatchBuilder(capacity: 256)
                        try builder.append(LogRecord(timestamp: 1, typeCode: 1, streamKey: Array("c\(caller)".utf8), body: Array("\(caller)-\(i)".utf8)))
                        mine.append(try await log.append(builder))
                    }
                    return mine
                }
            }
            var all: [Range<UInt64>] = []
            for try await mine in group { all += mine }
            return all
        }
        #expect(ranges.count == 64 * 20)
        #expect(Set(ranges.map(\.lowerBound)) == Set(0..<UInt64(64 * 20)))
        let syncs = faults.calls(of: .fdatasync) - syncsBefore
        #expect(syncs < 64 * 20, "group commit should share syncs: \(syncs) syncs for \(64 * 20) appends")
        #expect(try readAll(log.reader()).count == 64 * 20)
    }

    @Test("following the log yields each new record as it commits, and ends when the log closes")
    func follow() async throws {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log, options: LogOptions(durability: .none))
        try appendSamples(log, batches: 2, perBatch: 3)
        let follower = Task {
            var seen: [UInt64] = []
            for try await record in log.reader().follow(from: 4) { seen.append(record.position) }
            return seen
        }
        try await Task.sleep(for: .milliseconds(20))
        try appendSamples(log, batches: 3, perBatch: 2, seed: 9)
        try await Task.sleep(for: .milliseconds(20))
        try log.close()
        #expect(try await follower.value == Array(4..<12))
    }
}
