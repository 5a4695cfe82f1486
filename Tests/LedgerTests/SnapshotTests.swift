import LedgerSync
import Glibc
import Synchronization
import Testing
@testable import Ledger
@testable import LedgerDomain
import LedgerGenerator
import LedgerLog
import LedgerBytes

/// Where two states' snapshot bytes first differ (nil: they are the same), for a readable failure.
func difference(_ a: [SnapshotSection: [UInt8]], _ b: [SnapshotSection: [UInt8]]) -> String? { Snapshots.firstDifference(a, b) }

@Suite("Snapshots")
struct SnapshotTests {
    /// The days of a generated program.
    static func days(clients: Int = 300, days: Int = 90, seed: UInt64 = 7) -> [ProgramGenerator.Day] {
        var generator = ProgramGenerator(.init(clients: clients, days: days, seed: seed))
        var all: [ProgramGenerator.Day] = []
        generator.run { all.append($0) }
        return all
    }

    static func run(_ ledger: Ledger, _ days: ArraySlice<ProgramGenerator.Day>) throws {
        for day in days {
            _ = try ledger.submit(commands(day.lines))
            _ = try ledger.advance(to: day.advanceTo)
        }
    }

    static var options: Ledger.Configuration {
        var options = Ledger.Configuration(durability: .none)
        options.snapshotOnCloseAfter = nil
        return options
    }

    /// What a full replay of the directory gives, as snapshot bytes.
    static func replayed(_ dir: String) throws -> [SnapshotSection: [UInt8]] {
        Snapshots.sectionBytes(try LedgerView(directory: dir, useSnapshots: false).state)
    }

    @Test("each section of a state restores to an equal state: the same bytes again, the same clients", arguments: [1, 2, 3])
    func roundTrip(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: Self.options)
        try Self.run(ledger, Self.days(days: 60, seed: seed)[...])
        let sections = ledger.read { Snapshots.sectionBytes($0) }
        let restored = try LedgerState(snapshot: { section in
            sections[section]!.withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) }
        })
        #expect(difference(Snapshots.sectionBytes(restored), sections) == nil)
        ledger.read { live in
            #expect(restored.clients.map(fingerprint) == live.clients.map(fingerprint))
            #expect(restored.totals == live.totals && restored.rules == live.rules && restored.nextPosition == live.nextPosition)
        }
        restored.checkInvariants()
        try ledger.close()
        // The live state (decided and applied from decoded events) and a full replay (the log's
        // bytes, read by the byte-level paths: purchases' items, mailings…) are the same bytes.
        #expect(difference(try Self.replayed(dir.path), sections) == nil, "the live state is what a full replay of its log gives")
    }

    @Test("property: a snapshot plus the log after it gives the state a full replay gives, and decides the rest as the live ledger does",
          arguments: [(7, 20), (8, 55), (9, 89)])
    func snapshotPlusTail(seed: UInt64, cut: Int) throws {
        let days = Self.days(days: 90, seed: seed)
        let live = TemporaryDirectory(), copy = TemporaryDirectory()
        let a = try Ledger(directory: live.path, configuration: Self.options)
        try Self.run(a, days[..<cut])
        let info = try #require(try a.writeSnapshot())
        #expect(info.position == a.read { $0.nextPosition })
        #expect(try a.writeSnapshot() == nil, "a second snapshot at the same position is not written")
        // A few days past the snapshot, so that the reopened copy replays a tail.
        let tailEnd = min(days.count, cut + 3)
        try Self.run(a, days[cut..<tailEnd])
        #expect(system("cp -a '\(live.path)/.' '\(copy.path)/'") == 0)
        let view = try LedgerView(directory: copy.path)
        #expect(view.startSnapshot?.position == info.position && view.snapshotRejections.isEmpty)
        let full = try Self.replayed(copy.path)
        #expect(difference(Snapshots.sectionBytes(view.state), full) == nil, "snapshot + tail = full replay")
        let b = try Ledger(directory: copy.path, configuration: Self.options)
        #expect(b.openReport.snapshot?.position == info.position)
        #expect(b.openReport.replayedEvents == b.openReport.events - info.position)
        for day in days[tailEnd...] {
            let batch = commands(day.lines)
            #expect(try a.submit(batch) == (try b.submit(batch)), "day \(day.index)")
            #expect(try a.advance(to: day.advanceTo) == (try b.advance(to: day.advanceTo)), "advance of day \(day.index)")
        }
        #expect(difference(a.read { Snapshots.sectionBytes($0) }, b.read { Snapshots.sectionBytes($0) }) == nil)
        try a.close()
        try b.close()
    }

    /// A directory with a snapshot part of the way through its log, and more events after it.
    static func ledgerWithSnapshot() throws -> (TemporaryDirectory, Snapshots.Info) {
        let dir = TemporaryDirectory()
        let days = Self.days(clients: 200, days: 40)
        let ledger = try Ledger(directory: dir.path, configuration: Self.options)
        try Self.run(ledger, days[..<30])
        let info = try #require(try ledger.writeSnapshot())
        try Self.run(ledger, days[30...])
        try ledger.close()
        return (dir, info)
    }

    /// Opens the directory as a view and as a writer: each passes the snapshot over, saying
    /// `because`, and rebuilds the state a full replay gives; the writer sets the file aside.
    static func expectPassedOver(_ dir: String, _ path: String, because: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let full = try replayed(dir)
        let view = try LedgerView(directory: dir)
        #expect(view.startSnapshot == nil, sourceLocation: sourceLocation)
        #expect(view.snapshotRejections.count == 1 && view.snapshotRejections[0].reason.contains(because),
                "\(view.snapshotRejections)", sourceLocation: sourceLocation)
        #expect(difference(Snapshots.sectionBytes(view.state), full) == nil, sourceLocation: sourceLocation)
        #expect(access(path, F_OK) == 0, "a view changes nothing", sourceLocation: sourceLocation)
        let ledger = try Ledger(directory: dir, configuration: options)
        #expect(ledger.openReport.snapshot == nil && ledger.openReport.snapshotRejections.map(\.path) == [path], sourceLocation: sourceLocation)
        #expect(difference(ledger.read { Snapshots.sectionBytes($0) }, full) == nil, sourceLocation: sourceLocation)
        try ledger.close()
        #expect(access(path, F_OK) != 0 && access(path + ".set-aside", F_OK) == 0, "the writer set it aside", sourceLocation: sourceLocation)
    }

    @Test("a byte flipped in the header, the directory or any section is caught by its checksum, and the state is rebuilt from the log")
    func flippedBytes() throws {
        let (dir, info) = try Self.ledgerWithSnapshot()
        let original = readFile(info.path)
        var places: [(Int, String)] = [(20, "header checksum"), (64 + 5, "directory's checksum")]
        for k in 0..<SnapshotSection.allCases.count {
            let entry = 64 + 32 * k
            let offset = Int(original[entry + 8..<entry + 16].reversed().reduce(0) { $0 << 8 | UInt64($1) })
            let length = Int(original[entry + 16..<entry + 24].reversed().reduce(0) { $0 << 8 | UInt64($1) })
            let name = SnapshotSection.allCases[k].name
            if length > 0 { places.append((offset + length / 2, "section '\(name)' does not match its checksum")) }
        }
        #expect(places.count >= 12)
        for (offset, reason) in places {
            var bytes = original
            bytes[offset] ^= 0x10
            writeFile(info.path, bytes)
            try Self.expectPassedOver(dir.path, info.path, because: reason)
            #expect(rename(info.path + ".set-aside", info.path) == 0)
        }
    }

    @Test("a snapshot cut short, of another format version, of another log, or past this log's end is passed over with the reason")
    func foreignSnapshots() throws {
        let (dir, info) = try Self.ledgerWithSnapshot()
        let original = readFile(info.path)
        // Cut short.
        writeFile(info.path, Array(original[..<(original.count - 100)]))
        try Self.expectPassedOver(dir.path, info.path, because: "cut short")
        writeFile(info.path, Array(original[..<40]))
        try Self.expectPassedOver(dir.path, info.path, because: "shorter than its 64-byte header")
        // Another version (its header checksum made right, as an older build would have).
        var older = original
        older[8] = 0
        let crc = older[8..<64].withUnsafeBytes { CRC32C.checksum($0) }
        withUnsafeBytes(of: crc.littleEndian) { for k in 0..<4 { older[4 + k] = $0[k] } }
        writeFile(info.path, older)
        try Self.expectPassedOver(dir.path, info.path, because: "format version 0")
        unlink(info.path + ".set-aside")
        // Another log's snapshot.
        let (other, otherInfo) = try Self.ledgerWithSnapshot()
        writeFile(info.path, readFile(otherInfo.path))
        try Self.expectPassedOver(dir.path, info.path, because: "another log")
        _ = other
        // The same log, cut back before the snapshot's position (as a restored backup would be).
        let short = TemporaryDirectory()
        let ledger = try Ledger(directory: short.path, configuration: Self.options)
        try Self.run(ledger, Self.days(clients: 200, days: 40)[..<5])
        try ledger.close()
        #expect(system("cp -a '\(dir.path)/LEDGER' '\(short.path)/LEDGER' && cp -a '\(dir.path)/log/LOG' '\(short.path)/log/LOG' && mkdir -p '\(short.path)/snapshots'") == 0)
        let moved = short.path + "/snapshots/" + (info.path.split(separator: "/").last.map(String.init) ?? "")
        writeFile(moved, original)
        try Self.expectPassedOver(short.path, moved, because: "past the log's end")
    }

    @Test("background snapshots beside concurrent submits: each is whole, of this log, and equals a replay up to its position")
    func backgroundSnapshots() async throws {
        let dir = TemporaryDirectory()
        var options = Self.options
        options.snapshotEvery = 300
        options.snapshotInterval = nil
        // Commands without times, stamped by a clock that stands at each day's end: four
        // callers at once cannot then put a later event before an earlier one.
        let clock = Lock<Micros>(0)
        options.clock = { clock.withLock { $0 } }
        let ledger = try Ledger(directory: dir.path, configuration: options)
        let days = Self.days(clients: 400, days: 40)
        // The registrations first, then four callers submitting the rest of each day at once.
        for day in days {
            clock.withLock { $0 = day.advanceTo }
            let lines = commands(day.lines).map { command in
                var command = command
                command.at = nil
                return command
            }
            let registrations = lines.filter { $0.typeName == "client.registered" }
            _ = try await ledger.submit(registrations)
            let rest = lines.filter { $0.typeName != "client.registered" }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for part in 0..<4 {
                    let mine = rest.enumerated().filter { $0.offset % 4 == part }.map(\.element)
                    group.addTask { for command in mine { _ = try ledger.submit([command]) } }
                }
                try await group.waitForAll()
            }
            _ = try await ledger.advance(to: day.advanceTo)
        }
        try ledger.close()
        let (written, failure) = ledger.backgroundSnapshots
        #expect(failure == nil, "\(failure ?? "")")
        #expect(written >= 2, "\(written) written of \(ledger.read { $0.nextPosition }) events")
        let reader = try LogReader(directory: Ledger.logDirectory(dir.path))
        let checks = Snapshots.check(ledger: dir.path, identity: try Ledger.checkIdentity(directory: dir.path)?.identity, reader: reader, deep: true)
        #expect(checks.count == 2 && checks.allSatisfy { $0.problem == nil && $0.proven }, "\(checks.map { $0.problem ?? "ok" })")
    }

    @Test("the client, lot and purchase rows are the records as they lie in memory here, so snapshots are mapped, not copied")
    func rowsAreMapped() throws {
        #expect(LedgerState.clientRowsMap && LotPool.rowsMap && LedgerState.purchaseRowsMap)
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: Self.options)
        try Self.run(ledger, Self.days(clients: 50, days: 10)[...])
        try ledger.writeSnapshot()
        try ledger.close()
        let view = try LedgerView(directory: dir.path)
        #expect(view.startSnapshot != nil)
        #expect(view.state.records.mappedChunks > 0 && view.state.lotPool.lots.mappedChunks > 0 && view.state.purchaseStates.mappedChunks > 0)
    }

    @Test("callers asking for a snapshot at once get one file: one writes it, the others find it there")
    func concurrentSnapshotCalls() async throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: Self.options)
        try Self.run(ledger, Self.days(clients: 100, days: 15)[...])
        let written = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<4 { group.addTask { try ledger.writeSnapshot() != nil } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(written == 1)
        try ledger.close()
        let reader = try LogReader(directory: Ledger.logDirectory(dir.path))
        let checks = Snapshots.check(ledger: dir.path, identity: try Ledger.checkIdentity(directory: dir.path)?.identity, reader: reader, deep: true)
        #expect(checks.count == 1 && checks[0].proven)
    }

    @Test("a clean close writes a snapshot once enough events lie past the newest; only the newest two are kept")
    func closeWritesAndPrunes() throws {
        let dir = TemporaryDirectory()
        let days = Self.days(clients: 100, days: 30)
        var options = Self.options
        options.snapshotOnCloseAfter = 1
        for part in [days[..<10], days[10..<20], days[20...]] {
            let ledger = try Ledger(directory: dir.path, configuration: options)
            try Self.run(ledger, part)
            try ledger.close()
        }
        let files = Snapshots.files(Snapshots.directory(dir.path), syscalls: .live)
        #expect(files.count == 2, "\(files)")
        let reopened = try Ledger(directory: dir.path, configuration: options)
        #expect(reopened.openReport.snapshot?.path == files.first && reopened.openReport.replayedEvents == 0)
        try reopened.close()
        #expect(Snapshots.files(Snapshots.directory(dir.path), syscalls: .live) == files, "nothing new to write: no new snapshot")
    }
}

