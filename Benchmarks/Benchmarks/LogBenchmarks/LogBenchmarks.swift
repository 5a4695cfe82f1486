import Benchmark
import Glibc
import LedgerLog
import Synchronization

// Targets of the log issue, with records of 48-byte bodies. Each figure is read next to a
// baseline taken in the same run (raw fdatasync, memcpy, LZ4 on the same bytes), because
// this machine's disk swings 20× from minute to minute. Throughput is per event where
// `scalingFactor` is .kilo/.mega (one measured iteration = that many events).

/// Mutable state a benchmark sets up once and its iterations share.
final class Fixture: @unchecked Sendable {
    var directory = ""
    var log: Log?
    var builder = RecordBatchBuilder()
    var time: Int64 = 1_700_000_000_000_000
    var counter = 0
    var buffer: [UInt8] = []
    var output: [UInt8] = []
    var fd: Int32 = -1
    var offset: Int = 0

    func makeDirectory() {
        var template = Array("/tmp/ledger-bench-XXXXXX".utf8CString)
        _ = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        directory = String(cString: template.withUnsafeBufferPointer { $0.baseAddress! })
    }

    func open(_ options: LogOptions) throws {
        makeDirectory()
        log = try Log(directory: directory + "/log", options: options)
    }

    func tearDown() throws {
        try log?.close()
        log = nil
        if fd >= 0 { close(fd); fd = -1 }
        SystemCalls.removeTree(directory)
    }

    var random: UInt64 = 0x9E37_79B9_7F4A_7C15

    /// Fills the builder with `count` events: 48-byte bodies shaped like encoded loyalty
    /// events (a version byte, small varint fields, then 24 bytes of high-entropy ids and
    /// amounts), keys of 10 000 clients. LZ4 gets about 1.6× from them, as from real events.
    func fill(_ count: Int) throws {
        builder.reset()
        var body = (0..<48).map { UInt8($0 % 8) }
        for _ in 0..<count {
            counter += 1
            time += 100
            for i in stride(from: 24, to: 48, by: 8) {
                random = random &* 6364136223846793005 &+ 1442695040888963407
                withUnsafeBytes(of: random) { for k in 0..<8 { body[i + k] = $0[k] } }
            }
            body[0] = UInt8(truncatingIfNeeded: counter)
            body[1] = UInt8(truncatingIfNeeded: counter >> 8)
            var key = (100_000 + counter % 10_000)
            try withUnsafeBytes(of: &key) { keyBytes in
                try body.withUnsafeBytes { try builder.append(timestamp: time, typeCode: UInt32(counter % 12), streamKey: keyBytes, body: $0) }
            }
        }
    }
}

/// A shared count of events still to append, taken one at a time by concurrent callers.
final class Countdown: Sendable {
    private let left: Atomic<Int>
    init(_ count: Int) { left = Atomic(count) }
    func take() -> Bool { left.subtract(1, ordering: .relaxed).oldValue > 0 }
}


/// A megabyte of realistic payload: the encoded records of about 15 000 events.
func samplePayload() throws -> [UInt8] {
    let f = Fixture()
    try f.fill(16_000)
    return Array(f.builder.payloadBytes.prefix(1 << 20))
}

let benchmarks: @Sendable () -> Void = {
    let perSecond = Benchmark.Configuration(metrics: [.throughput, .wallClock], timeUnits: .microseconds,
                                            maxDuration: .seconds(3), maxIterations: 1_000_000)

    // Baselines of this machine, measured in the same run.
    let syncBase = Fixture()
    Benchmark("baseline: append 4 KiB + fdatasync (raw file)", configuration: perSecond) { _ in
        var page = [UInt8](repeating: 7, count: 4096)
        page.withUnsafeBytes { _ = pwrite(syncBase.fd, $0.baseAddress, 4096, off_t(syncBase.offset)) }
        syncBase.offset += 4096
        fdatasync(syncBase.fd)
    } setup: {
        syncBase.makeDirectory()
        syncBase.fd = open(syncBase.directory + "/raw", O_RDWR | O_CREAT, 0o600)
    } teardown: { try syncBase.tearDown() }

    let memory = Fixture()
    Benchmark("baseline: memcpy 1 MiB", configuration: perSecond) { _ in
        memory.output.withUnsafeMutableBytes { out in memory.buffer.withUnsafeBytes { out.copyMemory(from: $0) } }
        blackHole(memory.output[100])
    } setup: {
        memory.buffer = [UInt8](repeating: 3, count: 1 << 20)
        memory.output = [UInt8](repeating: 0, count: 1 << 20)
    }

    let lz4 = Fixture()
    Benchmark("baseline: LZ4 compress 1 MiB of payload", configuration: perSecond) { _ in
        let n = lz4.buffer.withUnsafeBytes { src in lz4.output.withUnsafeMutableBytes { LZ4Block.compress(src, into: $0) } }
        blackHole(n)
    } setup: {
        lz4.buffer = try samplePayload()
        lz4.output = [UInt8](repeating: 0, count: LZ4Block.compressBound(lz4.buffer.count))
    }

    // The log's own figures.
    let crc = Fixture()
    Benchmark("CRC-32C 1 MiB", configuration: perSecond) { _ in
        blackHole(CRC32C.checksum(crc.buffer))
    } setup: { crc.buffer = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) } }

    let noSync = Fixture()
    Benchmark("append, no sync, batches of 1000 (per event)",
              configuration: .init(metrics: [.throughput, .wallClock], timeUnits: .microseconds, scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 100_000)) { _ in
        try noSync.fill(1000)
        try noSync.log!.append(noSync.builder)
    } setup: { try noSync.open(LogOptions(durability: .none)) } teardown: { try noSync.tearDown() }

    let durable = Fixture()
    Benchmark("durable append, batches of 1000 (per event)",
              configuration: .init(metrics: [.throughput, .wallClock], timeUnits: .microseconds, scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 100_000)) { _ in
        try durable.fill(1000)
        try durable.log!.append(durable.builder)
    } setup: { try durable.open(LogOptions(durability: .sync)) } teardown: { try durable.tearDown() }

    let single = Fixture()
    Benchmark("durable append, single events, 1 caller", configuration: perSecond) { _ in
        try single.fill(1)
        try single.log!.append(single.builder)
    } setup: { try single.open(LogOptions(durability: .sync)) } teardown: { try single.tearDown() }

    let concurrent = Fixture()
    Benchmark("durable append, single events, 64 concurrent callers (per event)",
              configuration: .init(metrics: [.throughput, .wallClock], timeUnits: .microseconds, scalingFactor: .kilo, maxDuration: .seconds(3), maxIterations: 10_000)) { _ in
        let log = concurrent.log!
        let remaining = Countdown(1000)
        await withTaskGroup(of: Void.self) { group in
            for caller in 0..<64 {
                group.addTask {
                    let builder = RecordBatchBuilder(capacity: 256)
                    let body = [UInt8](repeating: UInt8(caller), count: 48)
                    while remaining.take() {
                        builder.reset()
                        try! body.withUnsafeBytes { b in
                            var key = caller
                            try withUnsafeBytes(of: &key) { try builder.append(timestamp: 1_700_000_000_000_000, typeCode: 1, streamKey: $0, body: b) }
                        }
                        _ = try! await log.append(builder)
                    }
                }
            }
        }
    } setup: { try concurrent.open(LogOptions(durability: .sync)) } teardown: { try concurrent.tearDown() }

    let scan = Fixture()
    Benchmark("scan: read, checksum, decompress, decode (per event)",
              configuration: .init(metrics: [.throughput, .wallClock], timeUnits: .milliseconds, scalingFactor: .mega, maxDuration: .seconds(5), maxIterations: 1000)) { _ in
        var count = 0
        var bytes = 0
        try scan.log!.reader().scan { record in
            count += 1
            bytes &+= record.body.count
            return true
        }
        precondition(count == 1_000_000)
        blackHole(bytes)
    } setup: {
        try scan.open(LogOptions(durability: .none))
        for _ in 0..<1000 {
            try scan.fill(1000)
            try scan.log!.append(scan.builder)
        }
    } teardown: { try scan.tearDown() }
}
