import Benchmark
import CPrefetch
import Foundation
import Glibc
import Ledger
import LedgerDomain
import LedgerGenerator
import LedgerLog
import Synchronization

// Targets of the domain issue:
// - submit ≥ 1 M checked commands/s in batches of 1000 without sync, one core;
// - a full rebuild of every projection from the log ≥ 10 M events/s, one core, on a generated
//   program of 1 M clients and 20 M events;
// - projection memory ≤ 600 bytes a client plus ≤ 8 bytes an event at that size.
//
// The rebuild's program is generated once into
// /tmp/ledger-bench-program-<clients>-<days>-v<body version>-g<generator version> (deterministic
// from its seed) and reused by later runs. Its size comes from LEDGER_BENCH_CLIENTS (default
// 1 000 000) and LEDGER_BENCH_DAYS (default 240).

func environment(_ name: String, _ fallback: Int) -> Int {
    guard let text = getenv(name) else { return fallback }
    return Int(String(cString: text)) ?? fallback
}

final class Program: @unchecked Sendable {
    var commands: [Command] = []
    var next = 0
    var ledger: Ledger?
    var directory = ""
    var events: UInt64 = 0
    var replica: LedgerReplica?

    /// The submit benchmarks' start: a program of 2.5 M+ commands (so that the measured batches
    /// never run out), a fresh unsynced ledger, and the first 200 000 commands submitted to warm
    /// the state past the first days' registrations.
    /// Background snapshots every this many events (nil: none, as before snapshots).
    var snapshotEvery: UInt64? = nil
    /// The longest batch of ``submitFirstMillion()``, ns.
    var longestBatch: UInt64 = 0
    /// What a benchmark found beside its time, printed by its teardown.
    var report = ""

    func prepareSubmit() throws {
        commands = generatedCommands(clients: 150_000, days: 365)
        directory = temporaryDirectory("ledger-bench-submit")
        var options = Ledger.Configuration(durability: .none)
        options.snapshotEvery = snapshotEvery
        options.snapshotInterval = nil
        options.snapshotOnCloseAfter = nil
        ledger = try Ledger(directory: directory, configuration: options)
        _ = try ledger!.submit(Array(commands[0..<200_000]))
        next = 200_000
    }

    /// The million commands after the warm-up, in batches of 1000. One pass, no warm-up pass:
    /// a second pass would submit the same commands again and measure their refusals and
    /// repeats instead.
    func submitFirstMillion() {
        precondition(next == 200_000, "the whole-program submit runs once")
        while next + 1000 <= 1_200_000 {
            let started = DispatchTime.now().uptimeNanoseconds
            blackHole(try! ledger!.submit(Array(commands[next..<(next + 1000)])))
            longestBatch = max(longestBatch, DispatchTime.now().uptimeNanoseconds - started)
            next += 1000
        }
    }

    func close() throws {
        try ledger?.close()
        SystemCalls.removeTree(directory)
    }
}


/// Parsed commands of a generated program, in order (registrations come before use).
func generatedCommands(clients: Int, days: Int) -> [Command] {
    ProgramGenerator.commands(.init(clients: clients, days: days, seed: 11))
}

/// Whether the directory's newest snapshot is of this build's format version (u16 at offset 8).
func hasCurrentSnapshot(_ path: String) -> Bool {
    guard let newest = Snapshots.files(Snapshots.directory(path)).last else { return false }
    let fd = open(Snapshots.directory(path) + "/" + newest, O_RDONLY)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var version: UInt16 = 0
    guard pread(fd, &version, 2, 8) == 2 else { return false }
    return UInt16(littleEndian: version) == LedgerState.snapshotVersion
}

/// Builds (once) the data directory of the rebuild benchmark.
func programDirectory(clients: Int, days: Int) throws -> String {
    let path = "/tmp/ledger-bench-program-\(clients)-\(days)-v\(EventCodec.bodyVersion)-g\(ProgramGenerator.version)"
    if access(path + "/complete", F_OK) == 0 {
        // A directory from before snapshots, or whose newest is of another format version:
        // write one (its close did not; a writer's open set the old one aside).
        if !hasCurrentSnapshot(path) {
            let ledger = try Ledger(directory: path, configuration: .init(durability: .none))
            try ledger.writeSnapshot()
            try ledger.close()
        }
        return path
    }
    SystemCalls.removeTree(path)
    let ledger = try Ledger(directory: path, configuration: .init(durability: .none))
    var generator = ProgramGenerator(.init(clients: clients, days: days, seed: 7))
    var line = 0
    try generator.run { day in
        var commands: [Command] = []
        for text in day.lines {
            line += 1
            if let command = try? CommandParser.parse(line: text, number: line) { commands.append(command) }
        }
        for start in stride(from: 0, to: commands.count, by: 5000) {
            _ = try ledger.submit(Array(commands[start..<min(commands.count, start + 5000)]))
        }
        _ = try ledger.advance(to: day.advanceTo)
    }
    try ledger.close()
    close(open(path + "/complete", O_WRONLY | O_CREAT, 0o600))
    return path
}

/// Lines of a generated program as bytes, for the parse benchmarks: 200 000 of them from the
/// program's second month on, so that registrations are no longer most of them.
final class Lines: @unchecked Sendable {
    var bytes: [[UInt8]] = []
    var data: [Data] = []
    var next = 0

    func prepare() {
        var generator = ProgramGenerator(.init(clients: 50_000, days: 120, seed: 11))
        var all: [String] = []
        generator.run { day in all.append(contentsOf: day.lines) }
        let chosen = all[(all.count - 200_000)...]
        bytes = chosen.map { Array($0.utf8) }
        data = bytes.map { Data($0) }
        print("parse lines: \(bytes.count), \(bytes.reduce(0) { $0 + $1.count } / bytes.count) bytes a line on average")
    }

    /// The next 1000 lines' range, cycling.
    func take() -> Range<Int> {
        if next + 1000 > bytes.count { next = 0 }
        defer { next += 1000 }
        return next..<(next + 1000)
    }
}

let benchmarks: @Sendable () -> Void = {
    heavyClientBenchmarks()
    concurrentSubmitBenchmarks()
    // Parsing JSON Lines, the first step of `ledger submit`, against Foundation's parser on the
    // same lines in the same run (it only builds dictionaries: no types, no checks).
    // Both measured alike: 1000 lines an iteration, reported per line.
    let perLine = Benchmark.Configuration(metrics: [.throughput, .wallClock], timeUnits: .microseconds, scalingFactor: .kilo,
                                          maxDuration: .seconds(5), maxIterations: 2000)
    let foundationLines = Lines()
    Benchmark("baseline: Foundation JSONSerialization of a program's JSON Lines (per line)", configuration: perLine) { _ in
        for k in foundationLines.take() { blackHole(try! JSONSerialization.jsonObject(with: foundationLines.data[k])) }
    } setup: {
        foundationLines.prepare()
    }

    let parsedLines = Lines()
    Benchmark("parse: a program's JSON Lines into checked commands (per line)", configuration: perLine) { _ in
        for k in parsedLines.take() {
            parsedLines.bytes[k].withUnsafeBufferPointer { blackHole(try? CommandParser.parse(utf8: $0, number: k + 1)) }
        }
    } setup: {
        parsedLines.prepare()
    }

    let submit = Program()
    Benchmark("submit: checked commands, batches of 1000, no sync (per command)",
              configuration: .init(metrics: [.throughput, .wallClock], timeUnits: .microseconds, scalingFactor: .kilo,
                                   maxDuration: .seconds(5), maxIterations: 1500)) { _ in
        precondition(submit.next + 1000 <= submit.commands.count, "the generated program is too small for the iterations")
        let batch = Array(submit.commands[submit.next..<(submit.next + 1000)])
        submit.next += 1000
        blackHole(try! submit.ledger!.submit(batch))
    } setup: {
        try submit.prepareSubmit()
        print("submit program: \(submit.commands.count) commands")
    } teardown: {
        try submit.close()
    }

    // The median above hides the mix: batches heavy in purchases take three times as long. This
    // one submits a whole program's first million commands (after the same warm-up), so its
    // time is the mean over the mix: commands/s = 1 000 000 ÷ the time.
    let whole = Program()
    Benchmark("submit: the first million commands of a program, batches of 1000, no sync (whole)",
              configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 0,
                                   maxDuration: .seconds(30), maxIterations: 1)) { _ in
        whole.submitFirstMillion()
    } setup: {
        try whole.prepareSubmit()
    } teardown: {
        try whole.close()
    }

    // The same million commands with a background snapshot every 300 000 events (about four
    // in the run): the ratio of this time to the one above is what snapshots cost submits, and
    // teardown prints the longest batch of each run (a batch that first changes a table the
    // snapshot still shares copies that table).
    let snapshotted = Program()
    snapshotted.snapshotEvery = 300_000
    Benchmark("submit: the same million commands with background snapshots every 300 000 events (whole)",
              configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 0,
                                   maxDuration: .seconds(60), maxIterations: 1)) { _ in
        snapshotted.submitFirstMillion()
    } setup: {
        try snapshotted.prepareSubmit()
    } teardown: {
        let (written, failure) = snapshotted.ledger!.backgroundSnapshots
        print("background snapshots: \(written) written\(failure.map { ", last failure: \($0)" } ?? ""); longest batch \(snapshotted.longestBatch / 1_000_000) ms; without snapshots the longest was \(whole.longestBatch / 1_000_000) ms")
        try snapshotted.close()
    }

    // The same million commands with a replica following the ledger on the other core (a
    // reader that never holds the writer up): the ratio of this time to the one above is what
    // a following replica costs the writer. Setup prints how far behind the replica was when
    // the last submit returned, and how long it took to catch up.
    let followed = Program()
    let replicaTask = Mutex<Task<Void, Error>?>(nil)
    Benchmark("submit: the same million commands with a replica following (whole)",
              configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 0,
                                   maxDuration: .seconds(30), maxIterations: 1)) { _ in
        followed.submitFirstMillion()
    } setup: {
        try followed.prepareSubmit()
        let replica = try followed.ledger!.replica()
        followed.replica = replica
        replicaTask.withLock { $0 = Task.detached { try await replica.follow() } }
    } teardown: {
        let end = followed.ledger!.position
        let behind = end - followed.replica!.position
        let started = Date()
        while followed.replica!.position < end { usleep(1000) }
        print("replica: \(behind) events behind when the last submit returned, caught up \(Int(Date().timeIntervalSince(started) * 1000)) ms later")
        try followed.close()
        try await replicaTask.withLock { $0 }?.value
    }

    // The baseline of the rebuild, in the same run: reading the same log (both checksums, LZ4,
    // record headers) and doing nothing with the events. The rebuild's time over this one is
    // the domain's share, whatever the machine's speed that minute.
    let scanned = Program()
    Benchmark("baseline: scan of the rebuild's log (per event)",
              configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, maxDuration: .seconds(30), maxIterations: 3)) { _ in
        var count = 0
        try! LogReader(directory: Ledger.logDirectory(scanned.directory)).scan { _ in count += 1; return true }
        blackHole(count)
    } setup: {
        scanned.directory = try programDirectory(clients: environment("LEDGER_BENCH_CLIENTS", 1_000_000),
                                                 days: environment("LEDGER_BENCH_DAYS", 240))
    }

    // A floor under any rebuild that keeps a record a client, in the same run: the same scan,
    // each event's client number read from its body, and one write into a 256-byte stand-in
    // record of that client (a million of them), prefetched 16 events ahead as the rebuild
    // does. It is the rebuild without the domain: the rebuild's time over this one is what
    // rules, lots, keys and purchases cost.
    let floor = Program()
    Benchmark("baseline: scan + one write to each event's client record (per event)",
              configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, maxDuration: .seconds(30), maxIterations: 3)) { _ in
        let clients = environment("LEDGER_BENCH_CLIENTS", 1_000_000)
        let stride = 256
        let records = UnsafeMutableRawPointer.allocate(byteCount: clients * stride, alignment: 64)
        records.initializeMemory(as: UInt8.self, repeating: 0, count: clients * stride)
        defer { records.deallocate() }
        _ = try! LogReader(directory: Ledger.logDirectory(floor.directory)).scanBatches { views in
            for k in 0..<views.count {
                if k + 16 < views.count, let n = EventCodec.clientNumber(views[k + 16].body), Int(n) < clients {
                    ledger_prefetch(records + Int(n) * stride)
                }
                if let n = EventCodec.clientNumber(views[k].body), Int(n) < clients {
                    records.storeBytes(of: views[k].timestamp, toByteOffset: Int(n) * stride, as: Int64.self)
                }
            }
            return true
        }
        blackHole(records.load(as: Int64.self))
    } setup: {
        floor.directory = try programDirectory(clients: environment("LEDGER_BENCH_CLIENTS", 1_000_000),
                                               days: environment("LEDGER_BENCH_DAYS", 240))
    }

    let rebuild = Program()
    Benchmark("rebuild: every projection from the log (per event)",
              configuration: .init(metrics: [.wallClock, .peakMemoryResident], timeUnits: .milliseconds,
                                   maxDuration: .seconds(30), maxIterations: 3)) { _ in
        // Events per second = the program's events (printed by setup) ÷ this wall-clock time.
        let view = try! LedgerView(directory: rebuild.directory, useSnapshots: false)
        blackHole(view.position)
    } setup: {
        let clients = environment("LEDGER_BENCH_CLIENTS", 1_000_000)
        let days = environment("LEDGER_BENCH_DAYS", 240)
        rebuild.directory = try programDirectory(clients: clients, days: days)
        let stats = try LedgerView(directory: rebuild.directory).stats()
        print("rebuild program: \(stats.clients) clients, \(stats.events) events, \(stats.logBytes) bytes of log in \(rebuild.directory)")
    }

    // A writer's open: the same rebuild, then the caches only decisions read (the level
    // windows, the due-time schedule up to its horizon). Its peak is what a serving ledger needs.
    for fromSnapshot in [false, true] {
        let writer = Program()
        Benchmark(fromSnapshot ? "open: a writer from the newest snapshot, with its decision caches (whole)"
                               : "open: a writer's full replay with its decision caches (whole)",
                  configuration: .init(metrics: [.wallClock, .peakMemoryResident], timeUnits: .milliseconds,
                                       maxDuration: .seconds(30), maxIterations: 3)) { _ in
            var options = Ledger.Configuration(durability: .none)
            options.useSnapshots = fromSnapshot
            options.snapshotOnCloseAfter = nil
            let ledger = try! Ledger(directory: writer.directory, configuration: options)
            precondition((ledger.openReport.snapshot != nil) == fromSnapshot, "the program's directory has no snapshot")
            blackHole(ledger.stats().clients)
            try! ledger.close()
        } setup: {
            writer.directory = try programDirectory(clients: environment("LEDGER_BENCH_CLIENTS", 1_000_000),
                                                    days: environment("LEDGER_BENCH_DAYS", 240))
        }
    }

    // How long a background snapshot stops a full-size writer: a copy of the program's
    // directory is opened from its snapshot; a first submit starts a background snapshot (every
    // event is past the newest by then); the next submit is the one that first changes tables
    // the snapshot still shares, and its time is printed beside a submit with no snapshot
    // running (the ratio is the stall).
    let stalled = Program()
    Benchmark("submit: a full-size writer's first submit after a background snapshot starts (whole)",
              configuration: .init(metrics: [.wallClock], timeUnits: .milliseconds, warmupIterations: 0,
                                   maxDuration: .seconds(120), maxIterations: 1)) { _ in
        var options = Ledger.Configuration(durability: .none)
        options.snapshotInterval = nil
        options.snapshotOnCloseAfter = nil
        options.snapshotEvery = 1
        let ledger = try! Ledger(directory: stalled.directory, configuration: options)
        func batch(_ k: Int) -> [Command] {
            (0..<1000).map { n in
                try! CommandParser.parse(line: #"{"type":"client.registered","client":"stall-\#(k)-\#(n)","phone":"7955\#(String(format: "%07d", k * 1000 + n))"}"#, number: n + 1)
            }
        }
        func timed(_ k: Int) -> Double {
            let started = DispatchTime.now().uptimeNanoseconds
            blackHole(try! ledger.submit(batch(k)))
            return Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        }
        let first = timed(0)  // starts the background snapshot once it returns
        let stall = timed(1)  // the first change to tables the snapshot shares
        let (written, _) = ledger.backgroundSnapshots
        try! ledger.close()   // waits for the snapshot
        var quiet = Ledger.Configuration(durability: .none)
        quiet.snapshotOnCloseAfter = nil
        let again = try! Ledger(directory: stalled.directory, configuration: quiet)
        _ = try! again.submit(batch(2))
        let started = DispatchTime.now().uptimeNanoseconds
        blackHole(try! again.submit(batch(3)))
        let plain = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6
        try! again.close()
        stalled.report = "full-size writer: a batch of 1000 registrations took \(Int(stall)) ms while a background snapshot had just started (the first: \(Int(first)) ms), \(Int(plain)) ms with none running; snapshots written meanwhile: \(written)"
    } setup: {
        let source = try programDirectory(clients: environment("LEDGER_BENCH_CLIENTS", 1_000_000), days: environment("LEDGER_BENCH_DAYS", 240))
        stalled.directory = source + "-stall"
        SystemCalls.removeTree(stalled.directory)
        precondition(system("cp -a '\(source)' '\(stalled.directory)'") == 0, "could not copy the program's directory")
    } teardown: {
        print(stalled.report)
        SystemCalls.removeTree(stalled.directory)
    }

    // Snapshot targets: a reader's open from the snapshot at most 1 s and at least 10× faster
    // than the full replay above, in the same run; and one client's card, as `ledger client`
    // answers a support call (the process's peak resident size is the benchmark's).
    let reader = Program()
    // The journal and segments on the full-size program, in process, from a view opened from
    // its snapshot: each iteration one query.
    func onTheProgram(_ name: String, _ unit: BenchmarkTimeUnits, seconds: Int, iterations: Int, _ query: @escaping (LedgerView) -> Void) {
        Benchmark(name, configuration: .init(metrics: [.wallClock], timeUnits: unit, maxDuration: .seconds(seconds), maxIterations: iterations)) { benchmark in
            for _ in benchmark.scaledIterations { query(journal.view!) }
        } setup: {
            try journal.open()
        }
    }
    onTheProgram("journal: one client's newest 50 rows, by phone (per query)", .microseconds, seconds: 10, iterations: 20_000) { view in
        journal.next += 1
        var query = JournalQuery()
        query.phone = journal.phones[journal.next % journal.phones.count]
        blackHole(try! view.journal(query))
    }
    onTheProgram("journal: a phone to its client (per lookup)", .microseconds, seconds: 5, iterations: 200_000) { view in
        journal.next += 1
        blackHole(view.clientID(phone: journal.phones[journal.next % journal.phones.count]))
    }
    onTheProgram("journal: the bonuses category's first page across all clients, a day's period (per query)", .microseconds,
                 seconds: 10, iterations: 2_000) { view in
        journal.next += 1
        var query = JournalQuery()
        query.categories = [.bonuses]
        query.from = Timestamp(year: 2025, month: 3, day: 1 + journal.next % 28)
        query.to = query.from.map { $0 + .seconds(86_399) }
        blackHole(try! view.journal(query))
    }
    onTheProgram("journal: a rare type's first page across all clients, the whole log (client.blocked, per query)", .microseconds,
                 seconds: 10, iterations: 2_000) { view in
        var query = JournalQuery()
        query.types = ["client.blocked"]
        blackHole(try! view.journal(query))
    }
    onTheProgram("journal: the audit replay of the busiest of 1 000 random clients (per replay)", .milliseconds, seconds: 10, iterations: 200) { view in
        blackHole(try! view.replay(client: journal.busiest))
    }
    onTheProgram("journal: custom events by name and a context value, first page across all clients (per query)", .microseconds,
                 seconds: 10, iterations: 2_000) { view in
        blackHole(try! view.journal(journal.contextQuery))
    }
    // Segments (issue 24): five filters over every client of the full-size program.
    onTheProgram("segment: five filters over every client (per evaluation)", .milliseconds, seconds: 20, iterations: 50) { view in
        blackHole(try! view.segmentMembers(filters: journal.fiveFilters))
    }
    rebuildBenchmarks()
    dynamicSegmentBenchmarks()

    Benchmark("open: a reader (LedgerView) from the newest snapshot, and one card (whole)",
              configuration: .init(metrics: [.wallClock, .peakMemoryResident], timeUnits: .milliseconds,
                                   maxDuration: .seconds(30), maxIterations: 5)) { _ in
        let view = try! LedgerView(directory: reader.directory)
        precondition(view.startSnapshot != nil, "the program's directory has no snapshot")
        blackHole(view.client(phone: "79000500000"))
    } setup: {
        reader.directory = try programDirectory(clients: environment("LEDGER_BENCH_CLIENTS", 1_000_000),
                                                days: environment("LEDGER_BENCH_DAYS", 240))
    }
}

/// The journal benchmarks' view of the full-size program and the phones they ask for.
final class JournalBench: @unchecked Sendable {
    var view: LedgerView?
    var phones: [String] = []
    var next = 0
    /// A segment of five filters (the segment issue's benchmark).
    let fiveFilters = try! SegmentFilter.parseList("""
        [{"field":"purchaseSum","op":"gte","values":[500000]},{"field":"daysWithoutPurchases","op":"lte","values":[60]},
         {"field":"gender","op":"in","values":["female"]},{"field":"status","op":"in","values":["participant"]},
         {"field":"bonusesAvailable","op":"gte","values":[10000]}]
        """)
    /// The client with the most events among the sampled ones, and how many it has.
    var busiest = ClientID("")
    var busiestEvents: Int64 = 0
    /// A name and context value that occur in the program (the newest custom event's).
    var contextQuery = JournalQuery()

    func open() throws {
        guard view == nil else { return }
        let directory = try programDirectory(clients: environment("LEDGER_BENCH_CLIENTS", 1_000_000), days: environment("LEDGER_BENCH_DAYS", 240))
        let view = try LedgerView(directory: directory)
        precondition(view.startSnapshot != nil, "the program's directory has no snapshot of this format")
        let clients = view.stats().clients
        var random = UInt64(42)
        for _ in 0..<1000 {
            random = random &* 6364136223846793005 &+ 1442695040888963407
            guard let card = view.client(id: "c" + String(format: "%07d", Int(random >> 33) % clients)) else { continue }
            if let phone = card.phone { phones.append("+" + phone) }
            if card.eventCount > busiestEvents { (busiest, busiestEvents) = (card.id, card.eventCount) }
        }
        var custom = JournalQuery()
        custom.types = ["custom"]
        custom.limit = 1
        if let row = try view.journal(custom).rows.first, case .string(let name)? = row.details["name"],
           case .object(let context)? = row.details["context"], let (key, value) = context.first {
            contextQuery.name = name
            let text: String = switch value { case .string(let s): s; case .integer(let i): String(i); default: value.text }
            contextQuery.context = [.init(key: key, value: text)]
        }
        self.view = view
        print("journal: \(phones.count) phones of random clients, the busiest \(busiest) of \(busiestEvents) events; the context query: \(contextQuery.name ?? "—") \(contextQuery.context)")
    }
}

let journal = JournalBench()

/// A client with `lots` open lots in a state of its own, and the commands of one iteration of
/// the heavy-client benchmarks: a write-off, a reservation and its release.
final class HeavyClient: @unchecked Sendable {
    var state = LedgerState()
    var out: [EventRecord] = []
    var order = 0
    let now = 1_767_225_600_000_000 as Micros  // 2026-01-01

    func prepare(lots: Int) throws {
        let register = #"{"type":"client.registered","at":"2026-01-01T00:00:00Z","client":"c","phone":"79160000001"}"#
        _ = state.execute(try CommandParser.parse(line: register, number: 1), now: now, into: &out)
        for _ in 0..<lots {
            _ = state.execute(Command(client: "c", event: .bonusAccrued(Accrual(amount: 100_000, reason: .promotion))), now: now, into: &out)
        }
        out.removeAll()
        print("heavy client: \(state.lots(of: 0).count) open lots")
    }

    func iterate() {
        order += 1
        let id = "o\(order)"
        for command in [Command(client: "c", event: .bonusWrittenOff(WriteOff(amount: 1, reason: .manual))),
                        Command(client: "c", event: .bonusReserved(Reservation(order: id, amount: 1))),
                        Command(client: "c", event: .bonusReserveReleased(Reservation(order: id, amount: 0)))] {
            guard case .accepted = state.execute(command, now: now, into: &out) else { fatalError("the heavy client's command was refused") }
        }
        out.removeAll(keepingCapacity: true)
    }
}

let heavyClientBenchmarks: @Sendable () -> Void = {
    // The heavy client's target: a write-off and a reservation on a client of 100 000 open lots
    // within 2× of the same on a client of 10, in the same run.
    let configuration = Benchmark.Configuration(metrics: [.throughput, .wallClock], timeUnits: .microseconds,
                                                maxDuration: .seconds(5), maxIterations: 200_000)
    for lots in [10, 100_000] {
        let client = HeavyClient()
        Benchmark("heavy client: a write-off, a reservation and its release on a client of \(lots) open lots", configuration: configuration) { _ in
            client.iterate()
        } setup: {
            try client.prepare(lots: lots)
        }
    }
}

/// Callers of the async API, each submitting one command at a time with a sync per submit
/// (durability .fsync): the library issue's target is 64 concurrent callers ≥ 10× one caller.
let concurrentSubmitBenchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(metrics: [.wallClock], timeUnits: .milliseconds,
                                                maxDuration: .seconds(20), maxIterations: 5)
    let submits = 640
    for tasks in [1, 64] {
        Benchmark("submit: \(submits) single-command submits, durable each, from \(tasks) task\(tasks == 1 ? "" : "s") at once (whole)",
                  configuration: configuration) { _ async in
            let directory = temporaryDirectory("ledger-concurrent")
            defer { SystemCalls.removeTree(directory) }
            var options = Ledger.Configuration()
            options.snapshotOnCloseAfter = nil
            let ledger = try! Ledger(directory: directory, configuration: options)
            let registrations = (0..<tasks).map { t in
                try! CommandParser.parse(line: #"{"type":"client.registered","at":"2025-01-01T09:00:00Z","client":"c\#(t)","phone":"791600\#(10_000 + t)"}"#, number: t + 1)
            }
            _ = try! await ledger.submit(registrations)
            let each = submits / tasks
            let watch = CardWatch(tasks)
            await withTaskGroup(of: Void.self) { group in
                for t in 0..<tasks {
                    group.addTask {
                        for k in 0..<each {
                            let command = Command(client: "c\(t)", event: .bonusAccrued(Accrual(amount: Int64(100 + k), reason: .manual)))
                            blackHole(try! await ledger.submit([command]))
                        }
                        watch.submitting.subtract(1, ordering: .relaxed)
                    }
                }
                // A card reader beside them, as a support screen: each read's time.
                group.addTask {
                    var mine: [UInt64] = []
                    while watch.submitting.load(ordering: .relaxed) > 0 {
                        let started = DispatchTime.now().uptimeNanoseconds
                        blackHole(ledger.client(id: "c\(mine.count % tasks)"))
                        mine.append(DispatchTime.now().uptimeNanoseconds - started)
                        await Task.yield()
                    }
                    watch.reads.withLock { $0 += mine }
                }
            }
            try! ledger.close()
            let sorted = watch.reads.withLock { $0 }.sorted()
            if !sorted.isEmpty {
                cardReads.withLock { $0 = "\(tasks) task(s): \(sorted.count) card reads beside the submits, p50 \(sorted[sorted.count / 2] / 1000) µs, p99 \(sorted[min(sorted.count - 1, sorted.count * 99 / 100)] / 1000) µs" }
            }
        } teardown: {
            print(cardReads.withLock { $0 })
        }
    }
}

/// What the concurrent-submit benchmarks' card reader saw (printed by the teardown).
let cardReads = Mutex("")

/// How many submitting tasks are still at it, and the card reads' times beside them.
final class CardWatch: Sendable {
    let submitting: Atomic<Int>
    let reads = Mutex([UInt64]())
    init(_ tasks: Int) { submitting = Atomic(tasks) }
}

/// A fresh directory under /tmp whose name starts with `prefix`.
func temporaryDirectory(_ prefix: String) -> String {
    var template = Array("/tmp/\(prefix)-XXXXXX".utf8CString)
    _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
}
