import Glibc
import Testing
@testable import LedgerLog

@Suite("Injected faults")
struct FaultTests {
    /// Appends batches one by one through a log whose syscalls fail as `plan` says, keeping
    /// what was acknowledged; then reopens without faults and checks the log holds exactly that.
    func run(plan: FaultPlan, segmentBytes: UInt64 = 4096) throws -> (acknowledged: [LogRecord], failures: [LogError]) {
        let dir = TemporaryDirectory()
        let log = try Log(directory: dir.log, options: LogOptions(segmentBytes: segmentBytes, syscalls: SystemCalls(faults: plan)))
        var random = SeededRandom(seed: 11)
        var acknowledged: [LogRecord] = []
        var failures: [LogError] = []
        var time: Int64 = 1_000
        for b in 0..<40 {
            var records: [LogRecord] = []
            for i in 0..<5 {
                time += 10
                records.append(sampleRecord(batch: b, index: i, timestamp: time, random: &random))
            }
            do {
                let range = try log.append(records)
                for (i, p) in range.enumerated() { records[i].position = p }
                acknowledged += records
            } catch {
                failures.append(error)
            }
        }
        try? log.close()
        let reopened = try Log(directory: dir.log, options: LogOptions(segmentBytes: segmentBytes))
        let found = try readAll(reopened.reader())
        #expect(found.count == acknowledged.count, "the reopened log holds exactly the acknowledged batches")
        #expect(found == acknowledged)
        try reopened.close()
        _ = try LogReader.verify(directory: dir.log)
        return (acknowledged, failures)
    }

    @Test("ENOSPC in the middle of a batch's write: the error is reported, later appends are refused, reopen holds exactly the acknowledged")
    func enospcMidBatch() throws {
        let (acknowledged, failures) = try run(plan: .once(.pwrite, at: 9, .shortWrite(bytes: 100, thenErrno: ENOSPC)))
        #expect(!acknowledged.isEmpty)
        #expect(failures.first?.errno == ENOSPC)
        #expect(failures.allSatisfy { $0.code == .diskFull && $0.message.contains("free") }, "said as a full disk, with how much is free")
    }

    @Test("a nearly full disk: a refused 16 MiB reservation falls back to smaller ones, and every append is acknowledged")
    func smallerReservations() throws {
        // The segment's first reservation and the first commit's 16 MiB step find no room; the
        // 64 KiB one after it does.
        let plan = FaultPlan { call, n in call == .fallocate && n < 2 ? .fail(errno: ENOSPC) : nil }
        let (acknowledged, failures) = try run(plan: plan, segmentBytes: 64 * 1024 * 1024)
        #expect(failures.isEmpty, "\(failures)")
        #expect(acknowledged.count == 200)
        #expect(plan.calls(of: .fallocate) > 2)
    }

    @Test("a full disk is disk_full, saying how much is free, and nothing unacknowledged is kept")
    func fullDisk() throws {
        // Every reservation fails, and every write after the first segment's header and LOG.
        let plan = FaultPlan { call, n in call == .fallocate || (call == .pwrite && n > 1) ? .fail(errno: ENOSPC) : nil }
        let (acknowledged, failures) = try run(plan: plan, segmentBytes: 64 * 1024 * 1024)
        #expect(acknowledged.isEmpty)
        #expect(failures.count == 40 && failures.allSatisfy { $0.code == .diskFull }, "\(failures.first.map { "\($0)" } ?? "")")
        #expect(failures.first?.message.contains("bytes are free on the file system") == true, "\(failures.first.map { "\($0)" } ?? "")")
        #expect(!(failures.first?.message.contains("reopen") ?? true), "reopening does not help a full disk; the message says to free space")
    }

    @Test("a failed fdatasync is never retried into success: nothing more is acknowledged until reopen")
    func failedSync() throws {
        let (acknowledged, failures) = try run(plan: .once(.fdatasync, at: 12, .fail(errno: EIO)))
        #expect(!acknowledged.isEmpty)
        #expect(failures.count > 1)
        #expect(failures.first?.errno == EIO)
        #expect(failures.dropFirst().allSatisfy { $0.code == .writerPoisoned })
    }

    @Test("every write, sync and preallocation of a scripted run failing in turn leaves a log that reopens with exactly the acknowledged")
    func everyCallFails() throws {
        for call in [Syscall.pwrite, .fdatasync, .fallocate, .ftruncate, .rename, .open] {
            for n in 0..<12 {
                let fault: InjectedFault = call == .pwrite && n % 2 == 0 ? .shortWrite(bytes: 37, thenErrno: EIO) : .fail(errno: call == .pwrite ? ENOSPC : EIO)
                // Faults that strike while the log opens make the open fail: that is the answer then.
                do {
                    _ = try run(plan: .once(call, at: n, fault), segmentBytes: 2048)
                } catch let error as LogError where error.code == .io || error.code == .diskFull {
                    continue
                }
            }
        }
    }
}
