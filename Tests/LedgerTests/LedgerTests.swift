import LedgerStorage
import Glibc
import Synchronization
import Testing
@testable import Ledger
@testable import LedgerDomain
import LedgerGenerator
import LedgerLog
import LedgerBytes

@Suite("The Ledger facade")
struct LedgerTests {
    @Test("opening a directory rebuilds a state equal to the live one, on a generated program")
    func replayEquivalence() throws {
        let dir = TemporaryDirectory()
        var options = Ledger.Configuration(durability: .none)
        options.segmentBytes = 256 * 1024  // several segments, sealed ones indexed
        let ledger = try Ledger(directory: dir.path, configuration: options)
        var generator = ProgramGenerator(.init(clients: 300, days: 90, seed: 7))
        var accepted = 0, repeated = 0
        try generator.run { day in
            let outcomes = try ledger.submit(commands(day.lines))
            accepted += outcomes.filter(\.isAccepted).count
            repeated += outcomes.filter { if case .repeated = $0 { true } else { false } }.count
            _ = try ledger.advance(to: day.advanceTo)
        }
        #expect(accepted > 1000)
        #expect(repeated > 0, "the program resends some requests, the same day and the next")
        let live = ledger.read { state in (state.clients.map(fingerprint), state.nextPosition, state.purchaseCount, state.rules) }
        let liveAnswers = try ledger.idempotencyAnswers()
        #expect(liveAnswers.count > 200, "the program used idempotency keys")
        try ledger.close()
        let reopened = try Ledger(directory: dir.path, configuration: options)
        let rebuilt = reopened.read { state in (state.clients.map(fingerprint), state.nextPosition, state.purchaseCount, state.rules) }
        #expect(rebuilt.1 == live.1 && rebuilt.2 == live.2 && rebuilt.3 == live.3)
        #expect(rebuilt.0 == live.0, "every client rebuilt equals the live one")
        #expect(try reopened.idempotencyAnswers() == liveAnswers, "idempotency answers survive a reopen")
        #expect(reopened.read { $0.heldKeyCount } == 0, "a rebuilt ledger holds no key's bytes: the log has them")
        let view = try LedgerView(directory: dir.path)
        #expect(view.state.clients.map(fingerprint) == live.0, "a read-only view rebuilds the same")
        // And the rebuilt ledger goes on where the live one stopped: advancing again appends nothing.
        let again = try reopened.advance(to: ProgramGenerator.Config(clients: 1, days: 1).start + 90 * Time.microsPerDay - 1)
        #expect(again.positions.isEmpty)
    }

    @Test("a ledger reopened midway decides the rest of a generated program as the live one does, event for event",
          arguments: [(9, 60), (4, 23), (21, 97)])
    func reopenedDecidesAsLive(seed: UInt64, cut: Int) throws {
        let clients = Int(getenv("LEDGER_REOPEN_CLIENTS").map { String(cString: $0) } ?? "400")!
        var generator = ProgramGenerator(.init(clients: clients, days: 120, seed: seed))
        var days: [ProgramGenerator.Day] = []
        generator.run { days.append($0) }
        let live = TemporaryDirectory(), copy = TemporaryDirectory()
        let options = Ledger.Configuration(durability: .none)
        let a = try Ledger(directory: live.path, configuration: options)
        for day in days[..<cut] {
            _ = try a.submit(commands(day.lines))
            _ = try a.advance(to: day.advanceTo)
        }
        // The directory as it stands (every submit returned: its batches are written), opened
        // beside the live ledger: the copy rebuilds its state from the log.
        #expect(system("cp -a '\(live.path)/.' '\(copy.path)/'") == 0)
        let b = try Ledger(directory: copy.path, configuration: options)
        var decided = 0
        for day in days[cut...] {
            let batch = commands(day.lines)
            let (liveOutcomes, reopenedOutcomes) = (try a.submit(batch), try b.submit(batch))
            #expect(liveOutcomes == reopenedOutcomes, "day \(day.index)")
            let (liveAdvance, reopenedAdvance) = (try a.advance(to: day.advanceTo), try b.advance(to: day.advanceTo))
            #expect(liveAdvance == reopenedAdvance, "advance of day \(day.index)")
            decided += liveOutcomes.count + liveAdvance.positions.count
        }
        #expect(decided > 500)
        try a.close()
        try b.close()
        func records(_ dir: String) throws -> [String] {
            var all: [String] = []
            _ = try LogReader(directory: Ledger.logDirectory(dir)).scan { record in
                all.append("\(record.position) \(record.timestamp) \(record.typeCode) \(record.streamKeyString) \(record.idempotencyKeyString ?? "-") \(Array(record.body))")
                return true
            }
            return all
        }
        let (liveLog, reopenedLog) = (try records(live.path), try records(copy.path))
        #expect(liveLog.count == reopenedLog.count && liveLog == reopenedLog, "the same log, record for record")
    }

    @Test("a long advance is queued in pieces: the same events as in one piece, in more batches")
    func advanceInPieces() throws {
        var generator = ProgramGenerator(.init(clients: 300, days: 60, seed: 5))
        var lines: [String] = []
        generator.run { lines += $0.lines }
        var logs: [[String]] = [], results: [AdvanceResult] = [], batches: [UInt64] = []
        for piece in [16_384, 10] {
            let dir = TemporaryDirectory()
            var options = Ledger.Configuration(durability: .none)
            options.advancePiece = piece
            let ledger = try Ledger(directory: dir.path, configuration: options)
            _ = try ledger.submit(commands(lines))
            // Sixty days of activations, then expiries and birthdays to the end of the year, at once.
            results.append(try ledger.advance(to: ProgramGenerator.Config(clients: 1, days: 1).start + 365 * Time.microsPerDay - 1))
            try ledger.close()
            var log: [String] = []
            _ = try LogReader(directory: Ledger.logDirectory(dir.path)).scan { record in
                log.append("\(record.position) \(record.timestamp) \(record.typeCode) \(record.streamKeyString) \(Array(record.body))")
                return true
            }
            logs.append(log)
            batches.append(try LogReader.verify(directory: Ledger.logDirectory(dir.path)).batches)
        }
        #expect(results[0].activated > 100 && results[0].expired > 100 && results[0].birthdayBonuses > 10)
        #expect(results[0] == results[1])
        #expect(logs[0] == logs[1], "the same events, byte for byte")
        #expect(batches[1] > batches[0] + 20, "pieces of about 10 events went to the log one by one: \(batches)")
    }

    @Test("verify checks every body's client number against its stream key, and names the first wrong one")
    func clientNumbersAreVerified() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        _ = try ledger.submit(commands([#"{"type":"client.registered","client":"c0","phone":"79160000000"}"#,
                                        #"{"type":"client.registered","client":"c1","phone":"79160000001"}"#,
                                        #"{"type":"note.added","client":"c1","text":"ok"}"#]))
        try ledger.close()
        #expect(try Ledger.verifyClientNumbers(LogReader(directory: Ledger.logDirectory(dir.path))) == 3)

        // A well-formed batch (whole checksums) whose body names client 0 for c1's event.
        let log = try Log(directory: Ledger.logDirectory(dir.path), options: LogOptions(durability: .none))
        let body = WriteBuffer()
        EventCodec.encode(.noteAdded("wrong"), derived: false, clientNumber: 0, into: body)
        let builder = RecordBatchBuilder()
        try builder.append(LogRecord(timestamp: wallClockMicros(), typeCode: EventKind.noteAdded.rawValue,
                                     streamKey: Array("c1".utf8), body: body.bytes))
        _ = try log.append(builder)
        try log.close()
        #expect(throws: LedgerError.self) { try Ledger.verifyClientNumbers(LogReader(directory: Ledger.logDirectory(dir.path))) }
        do {
            _ = try Ledger.verifyClientNumbers(LogReader(directory: Ledger.logDirectory(dir.path)))
        } catch LedgerError.undecodable(let position, let reason) {
            #expect(position == 3 && reason.contains("client number 0") && reason.contains("'c1' has 1"))
        }
    }

    @Test("an idempotency key still answers after a reopen, with nothing appended")
    func idempotencyAcrossReopen() throws {
        let dir = TemporaryDirectory()
        var ledger = try Ledger(directory: dir.path)
        let first = try ledger.submit(commands([
            #"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c1","phone":"89161234567"}"#,
            #"{"type":"bonus.accrued","at":"2025-01-02T09:00:00Z","client":"c1","amount":500,"key":"op-1"}"#,
        ]))
        try ledger.close()
        ledger = try Ledger(directory: dir.path)
        let end = ledger.stats().events
        let again = try ledger.submit(commands([#"{"type":"bonus.accrued","at":"2025-01-03T09:00:00Z","client":"c1","amount":500,"key":"op-1"}"#]))
        guard case .accepted(let range) = first[1] else { Issue.record("first accrual refused"); return }
        #expect(again == [.repeated(.accepted(range))])
        #expect(ledger.stats().events == end)
        #expect(ledger.client(phone: "+7 916 123 45 67")?.balances.available.minorUnits == 500)
    }

    @Test("idempotency keys are confirmed against the log: a repeat in the same batch, after it, and a key whose hash tag collides",
          arguments: [Durability.sync, .none])
    func keysConfirmedAgainstTheLog(durability: Durability) throws {
        // Two keys with the same 32-bit tag (found by the birthday bound: ~2^16 tries).
        var seen: [UInt64: String] = [:]
        var pair: (String, String)? = nil
        for n in 0..<1_000_000 where pair == nil {
            let key = "op-\(n)"
            let tag = key.utf8.withContiguousStorageIfAvailable { KeyIndex.tag(UnsafeRawBufferPointer($0)) }!
            if let other = seen[tag] { pair = (other, key) } else { seen[tag] = key }
        }
        guard let (a, b) = pair else { Issue.record("no colliding tags found"); return }
        let dir = TemporaryDirectory()
        var ledger = try Ledger(directory: dir.path, configuration: .init(durability: durability))
        let accrual = { (key: String, day: Int) in
            #"{"type":"bonus.accrued","at":"2025-01-0\#(day)T09:00:00Z","client":"c1","amount":100,"key":"\#(key)"}"#
        }
        let first = try ledger.submit(commands([
            #"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c1","phone":"89161234567"}"#,
            accrual(a, 2), accrual(a, 2),
        ]))
        guard case .accepted(let rangeA) = first[1] else { Issue.record("first accrual refused"); return }
        #expect(first[2] == .repeated(.accepted(rangeA)), "a repeat in the same batch answers from the bytes still held")
        #expect(ledger.read { $0.heldKeyCount } == 1, "a durable key stays held among the newest, for a till's quick retry")
        let second = try ledger.submit(commands([accrual(b, 3), accrual(a, 3)]))
        guard case .accepted(let rangeB) = second[0] else { Issue.record("a key colliding by tag was taken for a repeat: \(second[0])"); return }
        #expect(rangeB != rangeA)
        #expect(second[1] == .repeated(.accepted(rangeA)), "a repeat after the batch is answered from the newest keys, the tag's other key told apart")
        try ledger.close()
        ledger = try Ledger(directory: dir.path, configuration: .init(durability: durability))
        #expect(ledger.read { $0.heldKeyCount } == 0, "a rebuilt ledger holds no key: the log has them")
        let again = try ledger.submit(commands([accrual(b, 4), accrual(a, 4), accrual("op-new", 4)]))
        #expect(Array(again[0...1]) == [.repeated(.accepted(rangeB)), .repeated(.accepted(rangeA))], "both keys answer after a rebuild, confirmed from the log")
        #expect(again[2].isAccepted)
        #expect(ledger.client(id: "c1")?.balances.available.minorUnits == 300)
        #expect(try ledger.idempotencyAnswers().count == 3)
        #expect(try ledger.answer(forKey: b) == .accepted(rangeB) && ledger.answer(forKey: "op-unused") == nil)
    }

    @Test("a failed fdatasync: submit throws, the ledger refuses until reopened, and the reopened one has none of it")
    func failedSync() throws {
        let dir = TemporaryDirectory()
        let plan = FaultPlan { call, index in call == .fdatasync && index == 4 ? .fail(errno: EIO) : nil }
        var options = Ledger.Configuration()
        options.syscalls = SystemCalls(faults: plan)
        let ledger = try Ledger(directory: dir.path, configuration: options)
        var acknowledged: [String] = []
        var failures = 0
        for i in 0..<8 {
            let line = #"{"type":"client.registered","at":"2025-01-01T09:00:0\#(i)Z","client":"c\#(i)","phone":"7916000000\#(i)"}"#
            do {
                _ = try ledger.submit(commands([line]))
                acknowledged.append("c\(i)")
            } catch {
                failures += 1
            }
        }
        #expect(failures >= 1 && !acknowledged.isEmpty)
        try? ledger.close()
        let reopened = try Ledger(directory: dir.path)
        let present = reopened.read { $0.clients.map(\.id) }
        #expect(present == acknowledged, "exactly the acknowledged clients are in the log")
    }

    @Test("begun submits finish in order with submit's outcomes; a failed sync fails every submit in flight, and the reopened log has only the finished ones")
    func begunSubmits() throws {
        func register(_ i: Int) -> String {
            #"{"type":"client.registered","at":"2025-01-01T09:00:\#(10 + i)Z","client":"c\#(i)","phone":"79160000\#(10 + i)"}"#
        }
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path)
        let first = try ledger.beginSubmit(commands([register(0), register(1)]))
        let second = try ledger.beginSubmit(commands([register(1), register(2)]))  // decided after the first
        #expect(try ledger.finish(first) == [.accepted(0...0), .accepted(1...1)])
        let outcomes = try ledger.finish(second)
        guard case .refused(let code, _, let recorded) = outcomes[0] else { Issue.record("c1 registered twice: \(outcomes)"); return }
        #expect(code == .duplicateClient(client: "c1") && recorded == 2, "journaled after the first submit's events")
        #expect(outcomes[1] == .accepted(3...3))
        try ledger.close()

        // Every sync after the open fails: both submits in flight fail.
        final class Switch: Sendable { let on = Atomic<Bool>(false) }
        let armed = Switch()
        let faulty = TemporaryDirectory()
        let plan = FaultPlan { call, _ in call == .fdatasync && armed.on.load(ordering: .relaxed) ? .fail(errno: EIO) : nil }
        var options = Ledger.Configuration()
        options.syscalls = SystemCalls(faults: plan)
        let failing = try Ledger(directory: faulty.path, configuration: options)
        armed.on.store(true, ordering: .relaxed)
        let a = try failing.beginSubmit(commands([register(0)]))
        let b = try? failing.beginSubmit(commands([register(1)]))
        #expect(throws: (any Error).self) { try failing.finish(a) }
        if let b { #expect(throws: (any Error).self) { try failing.finish(b) } }
        #expect(throws: (any Error).self) { try failing.submit(commands([register(2)])) }
        try? failing.close()
        #expect(try Ledger(directory: faulty.path).stats().events == 0, "nothing acknowledged, nothing kept")
    }

    @Test("a submit larger than a batch is split between commands, never inside one")
    func largeSubmit() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        // 65 534 one-event commands, then a purchase whose three events (the purchase, the
        // client's first level, its accrual) would straddle the 65 536-event batch limit.
        var lines = [#"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c1","card":"1"}"#]
        for i in 0..<65_533 { lines.append(#"{"type":"mailing.sent","at":"2025-01-02T00:00:00Z","client":"c1","mailing":"m\#(i)","channel":"sms"}"#) }
        lines.append(#"{"type":"purchase.made","at":"2025-01-03T00:00:00Z","client":"c1","purchase":"p1","total":100000}"#)
        let outcomes = try ledger.submit(commands(lines))
        #expect(outcomes.allSatisfy { $0.isAccepted })
        #expect(outcomes.last == .accepted(65_534...65_536))
        try ledger.close()
        let reopened = try Ledger(directory: dir.path)
        #expect(reopened.stats().events == 65_537)
        #expect(reopened.client(id: "c1")?.balances.pending.minorUnits == 5000)
    }

    @Test("a second ledger on the same directory is refused while the first is open")
    func singleWriter() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path)
        #expect(throws: LogError.self) { try Ledger(directory: dir.path) }
        try ledger.close()
    }

    @Test("events of a type this build does not know are skipped on replay and counted")
    func unknownTypesAreSkipped() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path)
        _ = try ledger.submit(commands([#"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c1","card":"1"}"#]))
        try ledger.close()
        let log = try Log(directory: Ledger.logDirectory(dir.path))
        try log.append([LogRecord(timestamp: Time.parse("2025-01-02T00:00:00Z")!, typeCode: 5000, streamKey: Array("c1".utf8), body: [0x10, 0x08, 0x01])])
        try log.close()
        let reopened = try Ledger(directory: dir.path)
        #expect(reopened.openReport.unknownTypeEvents == 1)
        #expect(reopened.stats().events == 2)
        _ = try reopened.submit(commands([#"{"type":"note.added","at":"2025-01-03T00:00:00Z","client":"c1","text":"после неизвестного события"}"#]))
        #expect(reopened.stats().events == 3)
    }
}
