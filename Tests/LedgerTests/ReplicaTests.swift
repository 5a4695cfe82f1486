import Dispatch
import Glibc
import Synchronization
import Testing
@testable import Ledger
@testable import LedgerDomain
import LedgerGenerator
import LedgerLog

@Suite("Replicas: readers that never hold the writer up")
struct ReplicaTests {
    /// Every client's fingerprint, the position and the totals: what a replica must agree on.
    static func picture(_ state: borrowing LedgerState) -> [String] {
        state.clients.map(fingerprint) + ["\(state.nextPosition)", "\(state.totals)", "\(state.purchaseCount)", "\(state.rules)"]
    }

    @Test("a replica caught up after each day of a generated program holds what the writer holds, client for client")
    func replicaFollowsTheWriter() throws {
        // LEDGER_SOAK=N runs N programs of other seeds.
        for seed in 0..<UInt64(soak) { try replicaFollowsTheWriter(seed: 11 + seed) }
    }

    func replicaFollowsTheWriter(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        var options = Ledger.Configuration(durability: .none)
        options.segmentBytes = 16 * 1024  // the replica crosses segments as it catches up
        let ledger = try Ledger(directory: dir.path, configuration: options)
        var generator = ProgramGenerator(.init(clients: 300, days: 60, seed: seed))
        var replica: LedgerReplica? = nil
        var day = 0, compared = 0
        try generator.run { program in
            _ = try ledger.submit(commands(program.lines))
            _ = try ledger.advance(to: program.advanceTo)
            day += 1
            if day == 5 { replica = try LedgerReplica(log: ledger.log, slice: 97) }  // made midway; catch-ups of many slices
            guard let replica, day % 3 == 0 else { return }
            let position = try replica.catchUp()
            #expect(position == ledger.read { $0.nextPosition })
            #expect(replica.read(Self.picture) == ledger.read(Self.picture), "seed \(seed), day \(day)")
            let busiest = ledger.read { state in state.clients.max { $0.eventCount < $1.eventCount }!.id }
            #expect(replica.client(id: busiest).map { "\($0)" } == ledger.client(id: busiest).map { "\($0)" }, "the busiest client's card")
            let (mine, theirs) = (replica.stats(), ledger.stats())
            #expect(mine.events == theirs.events && mine.logBytes == theirs.logBytes && mine.segments == theirs.segments
                    && mine.balances == theirs.balances && mine.clients == theirs.clients)
            compared += 1
        }
        #expect(compared >= 15)
        #expect(ledger.stats().segments > 2, "the program spans several segments")
        // Caught up, a replica has nothing to do.
        let end = try replica!.catchUp()
        #expect(try replica!.catchUp() == end)
    }

    @Test("a reader inside a replica's read does not hold a submit up; one inside the writer's read does")
    func readersDoNotBlockTheWriter() throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        _ = try ledger.submit(commands([#"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c0","phone":"79160000000"}"#]))
        let replica = try ledger.replica()

        /// Runs `hold` on another thread inside a read, and a submit here meanwhile: whether the
        /// submit finished while the reader was still inside its read.
        func submitWhileReading(_ hold: @escaping @Sendable (@Sendable () -> Void) -> Void, client: Int) throws -> Bool {
            let entered = DispatchSemaphore(value: 0), submitted = DispatchSemaphore(value: 0), left = DispatchSemaphore(value: 0)
            let finishedInside = Atomic<Bool>(false)
            DispatchQueue(label: "reader").async {  // a queue of its own: a thread even when the global ones are busy
                hold {
                    entered.signal()
                    // Held until the submit is done, or for long enough to show it waits for us.
                    finishedInside.store(submitted.wait(timeout: .now() + .seconds(2)) == .success, ordering: .relaxed)
                }
                left.signal()
            }
            entered.wait()
            let line = #"{"type":"client.registered","at":"2025-01-01T09:00:0\#(client)Z","client":"c\#(client)","phone":"791600000\#(10 + client)"}"#
            #expect(try ledger.submit(commands([line])).allSatisfy(\.isAccepted))
            submitted.signal()
            left.wait()
            return finishedInside.load(ordering: .relaxed)
        }
        #expect(try submitWhileReading({ inside in replica.read { _ in inside() } }, client: 1),
                "the submit finished while a reader held the replica")
        #expect(try !submitWhileReading({ inside in ledger.read { _ in inside() } }, client: 2),
                "the writer's own read holds it up (which the replica is for)")
        #expect(try replica.catchUp() == 3)
        #expect(replica.client(id: "c2") != nil)
    }

    @Test("a replica never shows an event whose sync failed")
    func replicaShowsOnlyDurableEvents() throws {
        let dir = TemporaryDirectory()
        final class Switch: Sendable { let on = Atomic<Bool>(false) }
        let armed = Switch()
        let plan = FaultPlan { call, _ in call == .fdatasync && armed.on.load(ordering: .relaxed) ? .fail(errno: EIO) : nil }
        var options = Ledger.Configuration()
        options.syscalls = SystemCalls(faults: plan)
        let ledger = try Ledger(directory: dir.path, configuration: options)
        let register = { (i: Int) in #"{"type":"client.registered","at":"2025-01-01T09:00:0\#(i)Z","client":"c\#(i)","phone":"7916000000\#(i)"}"# }
        let accrue = #"{"type":"bonus.accrued","at":"2025-01-01T10:00:00Z","client":"c0","amount":500,"reason":"manual","comment":"goodwill"}"#
        _ = try ledger.submit(commands([register(0)]))
        let replica = try ledger.replica()
        armed.on.store(true, ordering: .relaxed)
        let late = #"{"type":"client.registered","at":"2025-01-01T10:00:01Z","client":"c1","phone":"79160000001"}"#
        #expect(throws: (any Error).self) { try ledger.submit(commands([accrue, late])) }
        // The writer's state decided them (and refuses everything now); the replica never saw them.
        #expect(ledger.read { $0.nextPosition } == 3)
        #expect(try replica.catchUp() == 1)
        #expect(replica.client(id: "c1") == nil && replica.client(id: "c0")?.balances.available.minorUnits == 0)
        #expect(replica.stats().events == 1)
        try? ledger.close()
        #expect(try Ledger(directory: dir.path).stats().events == 1, "what is on disk is what the replica showed")
    }

    @Test("a replica of a directory another writer fills catches up when asked, and one following a ledger as batches commit")
    func directoryAndFollowingReplicas() async throws {
        let dir = TemporaryDirectory()
        let ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        let lines = (0..<40).map { i in
            #"{"type":"client.registered","at":"2025-01-01T09:00:\#(10 + i)Z","client":"c\#(i)","phone":"79160000\#(100 + i)"}"#
        }
        _ = try await ledger.submit(commands(Array(lines[0..<10])))
        let outside = try LedgerReplica(directory: dir.path)
        let following = try ledger.replica()
        let task = Task { try await following.follow() }
        _ = try await ledger.submit(commands(Array(lines[10..<25])))
        #expect(outside.position == 10, "a directory replica sees nothing new until it catches up")
        #expect(try outside.catchUp() == 25)
        #expect(outside.read { $0.clients.map(\.id) } == (0..<25).map { "c\($0)" })
        _ = try await ledger.submit(commands(Array(lines[25..<40])))
        // The follower catches up on its own; wait for it (a bounded wait, not a timing).
        var waited = 0
        while following.position < 40 && waited < 6_000 {  // up to a minute: the pool may be busy
            try await Task.sleep(for: .milliseconds(10))
            waited += 1
        }
        #expect(following.position == 40)
        #expect(following.stats().clients == 40)
        try ledger.close()  // a closed log ends the follow
        try await task.value
    }

    @Test("a directory replica whose log was taken back past its position says so when it catches up, and stays as it was")
    func takenBackLogIsNamed() throws {
        let dir = TemporaryDirectory(), earlier = TemporaryDirectory()
        let lines = (0..<20).map { i in
            #"{"type":"client.registered","at":"2025-01-01T09:00:\#(10 + i)Z","client":"c\#(i)","phone":"79160000\#(100 + i)"}"#
        }
        var ledger: Ledger? = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        _ = try ledger!.submit(commands(Array(lines[0..<10])))
        try ledger!.close()
        ledger = nil
        #expect(system("cp -a '\(dir.path)/.' '\(earlier.path)/'") == 0)
        ledger = try Ledger(directory: dir.path, configuration: .init(durability: .none))
        _ = try ledger!.submit(commands(Array(lines[10..<20])))
        let replica = try LedgerReplica(directory: dir.path)
        #expect(replica.position == 20)
        try ledger!.close()
        ledger = nil
        // The directory goes back to ten events, as a writer that took batches back leaves it.
        #expect(system("rm -rf '\(dir.path)/log' && cp -a '\(earlier.path)/log' '\(dir.path)/log'") == 0)
        #expect {
            try replica.catchUp()
        } throws: { error in
            "\(error)".contains("ends at position 10, before this replica's 20")
        }
        #expect(replica.position == 20 && replica.stats().clients == 20)
    }

    @Test("readers of a replica catching up beside a busy writer only ever see it between batches, with balanced totals")
    func readersSeeWholeBatches() throws {
        let dir = TemporaryDirectory()
        var options = Ledger.Configuration(durability: .none)
        options.segmentBytes = 16 * 1024
        let ledger = try Ledger(directory: dir.path, configuration: options)
        // Slices of one event: every catch-up pauses after each batch, as often as it can.
        let replica = try LedgerReplica(log: ledger.log, slice: 1)
        /// What the readers saw, merged on a serial queue once each is done.
        final class Seen: @unchecked Sendable {
            var positions: [UInt64] = []
            var unbalanced: [String] = []
            let stop = Atomic<Bool>(false)
            let merge = DispatchQueue(label: "seen")
        }
        let seen = Seen()
        /// A reader's loop: reads the replica until told to stop, checking each read and noting
        /// each position it had not seen just before (so what it keeps grows with the batches,
        /// not with how long the writer takes).
        @Sendable func read(_ replica: LedgerReplica, _ seen: Seen) {
            var last: UInt64 = 0
            var positions: [UInt64] = [], unbalanced: [String] = []
            while !seen.stop.load(ordering: .relaxed) {
                let (position, b) = replica.read { ($0.nextPosition, $0.totals.balances) }
                if b.accrued != b.available + b.pending + b.reserved + b.used + b.expired + b.cancelled || position < last {
                    if unbalanced.count < 10 { unbalanced.append("at \(position) after \(last): \(b)") }
                }
                if position != last || positions.isEmpty { positions.append(position) }
                last = position
                usleep(200)  // let the catching up in between reads
            }
            seen.merge.sync {
                seen.positions += positions
                seen.unbalanced += unbalanced
            }
        }
        // Readers and the catching up on threads of their own: not in Swift's cooperative pool,
        // where the suite's other tests run (a follower's task there waits for them), nor on
        // the global dispatch queues, which run about as many blocks at once as there are cores.
        let threads = DispatchGroup()
        for k in 0..<2 {
            DispatchQueue(label: "reader \(k)").async(group: threads) { read(replica, seen) }
        }
        DispatchQueue(label: "catching up").async(group: threads) {
            while !seen.stop.load(ordering: .relaxed) {
                do { try replica.catchUp() } catch {
                    seen.merge.sync { seen.unbalanced.append("catch-up failed: \(error)") }
                    return
                }
                usleep(50)
            }
        }
        var generator = ProgramGenerator(.init(clients: 100, days: 20, seed: 5))
        try generator.run { day in
            // Many small batches: each a few commands, each command's events in one batch.
            let all = commands(day.lines)
            for start in stride(from: 0, to: all.count, by: 7) { _ = try ledger.submit(Array(all[start..<min(all.count, start + 7)])) }
            _ = try ledger.advance(to: day.advanceTo)
        }
        let end = ledger.read { $0.nextPosition }
        var waited = 0  // a bounded wait for the last catch-up, not a timing
        while replica.position < end && waited < 60_000 {
            usleep(1000)
            waited += 1
        }
        #expect(replica.position == end, "the replica caught up")
        seen.stop.store(true, ordering: .relaxed)
        threads.wait()
        try ledger.close()

        // Where the log's batches end: the only positions a reader may see.
        var ends: Set<UInt64> = [0]
        _ = try LogReader(directory: Ledger.logDirectory(dir.path)).scanBatches { records in
            ends.insert(records[records.count - 1].position + 1)
            return true
        }
        let positions = seen.merge.sync { seen.positions }
        #expect(!positions.isEmpty)
        let inside = positions.filter { !ends.contains($0) }
        #expect(inside.count == 0, "positions inside a batch seen: \(inside.prefix(5))")
        let unbalanced = seen.merge.sync { seen.unbalanced }
        #expect(unbalanced.count == 0, "\(unbalanced.prefix(3))")
        #expect(replica.read(Self.picture) == ledger.read(Self.picture))
    }
}
