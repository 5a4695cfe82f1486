import LedgerSync
import LedgerStorage
import Dispatch
import Glibc
import LedgerBytes
import LedgerDomain
import LedgerLog

/// Snapshot files (data-format.md §13): the whole state at a log position, so that opening a
/// ledger reads the snapshot and replays only the events after it. A snapshot is a cache: it
/// is checked before it is trusted (its checksums, its format version, the log it was taken
/// of, the position and the chain checksum of the batch there), and any that fails is passed
/// over with the reason, the state then rebuilt from the log.
public enum Snapshots {
    public static let magic: UInt32 = 0x504E_534C  // "LSNP"
    static let headerBytes = 64
    static let entryBytes = 32
    static let suffix = ".snapshot"
    static let setAsideSuffix = ".set-aside"
    /// How many snapshots are kept: the newest two.
    public static let kept = 2

    /// Where a ledger keeps its snapshots.
    public static func directory(_ ledger: String) -> String { Ledger.path(ledger, "snapshots") }

    /// A snapshot's file name: its position in 20 digits, so names sort as positions do.
    static func name(position: UInt64) -> String {
        let digits = String(position)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + suffix
    }

    /// What a snapshot's header says.
    public struct Info: Sendable, Equatable {
        public var path: String
        public var position: UInt64
        public var chain: UInt32
        public var identity: [UInt8]
        public var createdAt: Int64
        public var bytes: UInt64
    }

    /// A snapshot passed over, and why.
    public struct Rejection: Sendable, Equatable, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// Writes `state` as a snapshot of the log `identity` names, at `state.nextPosition`, whose
    /// batch there has CRC `chain`: sections into a temporary file, synced, renamed into
    /// place, the directory synced. Then removes all but the newest ``kept``.
    @discardableResult
    public static func write(_ state: LedgerState, chain: UInt32, identity: [UInt8], ledger: String,
                             now: Int64, syscalls: SystemCalls = .live) throws -> Info {
        let folder = directory(ledger)
        if !syscalls.fileExists(folder) {
            try syscalls.makeDirectory(folder)
            try syscalls.syncDirectory(ledger)
        }
        let path = folder + "/" + name(position: state.nextPosition)
        let temporary = path + ".tmp"
        let fd = try syscalls.open(temporary, flags: O_RDWR | O_CREAT | O_TRUNC)
        var length: UInt64 = 0
        do {
            let sections = SnapshotSection.allCases
            var offset = UInt64(4096)
            let directoryBytes = WriteBuffer(capacity: entryBytes * sections.count)
            for section in sections {
                let start = offset
                var crc: UInt32 = 0
                let encoder = SectionEncoder { bytes in
                    try syscalls.write(fd, bytes, toAbsoluteOffset: offset, path: temporary)
                    crc = CRC32C.checksum(bytes, continuing: crc)
                    offset += UInt64(bytes.count)
                }
                state.writeSnapshot(section, to: encoder)
                try encoder.finish()
                let sectionLength = offset - start
                // Sections start at multiples of 4096 (a page: their row tables can be mapped).
                let pad = Int((4096 - offset % 4096) % 4096)
                if pad > 0 {
                    try [UInt8](repeating: 0, count: pad).withUnsafeBytes { try syscalls.write(fd, $0, toAbsoluteOffset: offset, path: temporary) }
                    offset += UInt64(pad)
                }
                directoryBytes.reserve(entryBytes)
                directoryBytes.putLittleEndian(section.rawValue)
                directoryBytes.putLittleEndian(crc)
                directoryBytes.putLittleEndian(start)
                directoryBytes.putLittleEndian(sectionLength)
                directoryBytes.putLittleEndian(UInt64(0))
            }
            length = offset
            let header = WriteBuffer(capacity: headerBytes)
            header.putLittleEndian(magic)
            header.putLittleEndian(UInt32(0))  // the header CRC, set below
            header.putLittleEndian(LedgerState.snapshotVersion)
            header.putLittleEndian(UInt16(sections.count))
            header.putLittleEndian(directoryBytes.withUnsafeBytes { CRC32C.checksum($0) })
            identity.withUnsafeBytes { header.putBytes($0) }
            header.putZeros(16 - identity.count)
            header.putLittleEndian(state.nextPosition)
            header.putLittleEndian(chain)
            header.putLittleEndian(UInt32(0))
            header.putLittleEndian(now)
            header.putLittleEndian(length)
            header.setLittleEndian(header.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[8..<headerBytes])) }, at: 4)
            try header.withUnsafeBytes { try syscalls.write(fd, $0, toAbsoluteOffset: 0, path: temporary) }
            try directoryBytes.withUnsafeBytes { try syscalls.write(fd, $0, toAbsoluteOffset: UInt64(headerBytes), path: temporary) }
            try syscalls.fdatasync(fd, path: temporary)
            try syscalls.close(fd, path: temporary)
        } catch {
            try? syscalls.close(fd, path: temporary)
            try? syscalls.unlink(temporary)
            throw error
        }
        try syscalls.rename(temporary, to: path)
        try syscalls.syncDirectory(folder)
        try prune(folder, syscalls: syscalls)
        return Info(path: path, position: state.nextPosition, chain: chain, identity: identity, createdAt: now, bytes: length)
    }

    /// The snapshot files of a folder, newest first.
    public static func files(_ folder: String, syscalls: SystemCalls = .live) -> [String] {
        guard syscalls.fileExists(folder), let names = try? syscalls.listDirectory(folder) else { return [] }
        return names.filter { $0.hasSuffix(suffix) && $0.count == 20 + suffix.count && $0.prefix(20).allSatisfy(\.isNumber) }
            .sorted(by: >).map { folder + "/" + $0 }
    }

    /// Removes all but the newest ``kept`` snapshots, and temporaries a crash left.
    static func prune(_ folder: String, syscalls: SystemCalls) throws {
        for path in files(folder, syscalls: syscalls).dropFirst(kept) { try syscalls.unlink(path) }
        for name in (try? syscalls.listDirectory(folder)) ?? [] where name.hasSuffix(suffix + ".tmp") {
            try? syscalls.unlink(folder + "/" + name)
        }
    }

    /// A snapshot file mapped into memory, its header and directory checked.
    final class Mapped {
        let info: Info
        let base: UnsafeMutableRawPointer
        let length: Int
        let sections: [SnapshotSection: UnsafeRawBufferPointer]

        init(path: String) throws(SnapshotProblem) {
            let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw SnapshotProblem("it cannot be opened: \(String(cString: strerror(errno)))") }
            defer { Glibc.close(fd) }
            var status = stat()
            guard fstat(fd, &status) == 0 else { throw SnapshotProblem("it cannot be read: \(String(cString: strerror(errno)))") }
            let size = Int(status.st_size)
            guard size >= headerBytes else { throw SnapshotProblem("it is \(size) bytes, shorter than its 64-byte header") }
            // Private and writable: the state's large tables are used where they lie, and the
            // pages a writer changes are copied by the kernel (the file never changes).
            // (Not MAP_POPULATE: on a private writable mapping it copies every page: 2× slower.)
            guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
                throw SnapshotProblem("it cannot be mapped: \(String(cString: strerror(errno)))")
            }
            _ = madvise(mapped, size, MADV_SEQUENTIAL)
            base = mapped
            length = size
            let bytes = UnsafeRawBufferPointer(start: mapped, count: size)
            do throws(SnapshotProblem) {
                (info, sections) = try Self.check(bytes, path: path)
            } catch {
                munmap(mapped, size)
                throw error
            }
        }

        deinit { munmap(base, length) }

        private static func check(_ bytes: UnsafeRawBufferPointer, path: String) throws(SnapshotProblem) -> (Info, [SnapshotSection: UnsafeRawBufferPointer]) {
            func get<T: FixedWidthInteger>(_: T.Type, _ at: Int) -> T { T(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: T.self)) }
            guard get(UInt32.self, 0) == magic else { throw SnapshotProblem("it is not a snapshot (no LSNP magic)") }
            guard get(UInt32.self, 4) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[8..<headerBytes])) else {
                throw SnapshotProblem("its header checksum does not match (offset 4)")
            }
            let version = get(UInt16.self, 8)
            guard version == LedgerState.snapshotVersion else {
                throw SnapshotProblem("it is of format version \(version); this build reads version \(LedgerState.snapshotVersion)")
            }
            let count = Int(get(UInt16.self, 10))
            let info = Info(path: path, position: get(UInt64.self, 32), chain: get(UInt32.self, 40),
                            identity: Array(bytes[16..<32]), createdAt: get(Int64.self, 48), bytes: get(UInt64.self, 56))
            guard info.bytes == UInt64(bytes.count) else { throw SnapshotProblem("it is \(bytes.count) bytes, its header says \(info.bytes): cut short or grown") }
            let directoryEnd = headerBytes + entryBytes * count
            guard directoryEnd <= bytes.count else { throw SnapshotProblem("its section directory runs past its end") }
            let directory = UnsafeRawBufferPointer(rebasing: bytes[headerBytes..<directoryEnd])
            guard get(UInt32.self, 12) == CRC32C.checksum(directory) else { throw SnapshotProblem("its section directory's checksum does not match (offset 64)") }
            var sections: [SnapshotSection: UnsafeRawBufferPointer] = [:]
            var expected: [(SnapshotSection, UInt32, UInt64)] = []
            for k in 0..<count {
                let at = headerBytes + entryBytes * k
                let id = get(UInt32.self, at), crc = get(UInt32.self, at + 4)
                let offset = get(UInt64.self, at + 8), length = get(UInt64.self, at + 16)
                guard let section = SnapshotSection(rawValue: id) else { throw SnapshotProblem("it has a section of unknown id \(id)") }
                guard offset >= UInt64(directoryEnd), offset <= UInt64(bytes.count), length <= UInt64(bytes.count) - offset else {
                    throw SnapshotProblem("section '\(section.name)' runs past the file's end")
                }
                sections[section] = UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(offset + length)])
                expected.append((section, crc, offset))
            }
            // The checksums on every core, a section a task, the largest first.
            let order = Bodies(expected.map { (section: $0.0, bytes: sections[$0.0]!) }.sorted { $0.bytes.count > $1.bytes.count })
            let results = Lock([SnapshotSection: UInt32]())
            DispatchQueue.concurrentPerform(iterations: order.list.count) { k in
                let crc = CRC32C.checksum(order.list[k].bytes)
                results.withLock { $0[order.list[k].section] = crc }
            }
            let computed = results.withLock { $0 }
            for (section, crc, offset) in expected where computed[section] != crc {
                throw SnapshotProblem("section '\(section.name)' does not match its checksum (offset \(offset))")
            }
            for section in SnapshotSection.allCases where sections[section] == nil {
                throw SnapshotProblem("section '\(section.name)' is missing")
            }
            // What lies between the directory and the sections, and between sections, is zero.
            var covered = [(start: 0, end: directoryEnd)] + sections.values.map { (start: $0.baseAddress! - bytes.baseAddress!, end: $0.baseAddress! - bytes.baseAddress! + $0.count) }
            covered.sort { $0.start < $1.start }
            var at = 0
            for range in covered + [(start: bytes.count, end: bytes.count)] {
                guard range.start >= at else { throw SnapshotProblem("two sections overlap at offset \(range.start)") }
                if let bad = (at..<range.start).first(where: { bytes[$0] != 0 }) { throw SnapshotProblem("the padding at offset \(bad) is not zero") }
                at = range.end
            }
            return (info, sections)
        }
    }

    /// Sections of a mapping that lives while they are checked, handed to the checking threads.
    struct Bodies: @unchecked Sendable {
        let list: [(section: SnapshotSection, bytes: UnsafeRawBufferPointer)]
        init(_ list: [(section: SnapshotSection, bytes: UnsafeRawBufferPointer)]) { self.list = list }
    }

    /// Why a snapshot was not used.
    struct SnapshotProblem: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    /// The state of the newest snapshot in `ledger` that is whole and of the log `reader`
    /// reads (`identity`, when the directory has one), with the snapshots passed over and why.
    /// Nil when none is usable.
    /// The position a snapshot file's name gives (`NNNNNNNNNNNNNNNNNNNN.snapshot`).
    static func position(ofFile path: String) -> UInt64? {
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return UInt64(name.prefix { $0.isNumber })
    }

    public static func loadNewest(ledger: String, identity: [UInt8]?, reader: LogReader, rejections: inout [Rejection],
                                  syscalls: SystemCalls = .live, atMost limit: UInt64? = nil) -> (state: LedgerState, info: Info)?
    {
        for path in files(directory(ledger), syscalls: syscalls) {
            // A snapshot past the position asked for is not wrong, only of no use here.
            if let limit, let position = position(ofFile: path), position > limit { continue }
            do throws(SnapshotProblem) {
                return try load(path, identity: identity, reader: reader)
            } catch {
                rejections.append(Rejection(path: path, reason: error.reason))
            }
        }
        return nil
    }

    /// One snapshot, checked against the log.
    static func load(_ path: String, identity: [UInt8]?, reader: LogReader) throws(SnapshotProblem) -> (state: LedgerState, info: Info) {
        let mapped = try Mapped(path: path)
        let info = mapped.info
        if let identity, info.identity != identity + [UInt8](repeating: 0, count: max(0, 16 - identity.count)) {
            throw SnapshotProblem("it was taken of another log (identity \(hex(info.identity)), this log is \(hex(identity)))")
        }
        let end = reader.snapshot.endPosition
        guard info.position <= end else { throw SnapshotProblem("it stands at position \(info.position), past the log's end at \(end)") }
        let chain: UInt32?
        do { chain = try reader.batchCRC(endingAt: info.position) } catch {
            throw SnapshotProblem("the log cannot be read at its position \(info.position): \(error)")
        }
        guard let chain else { throw SnapshotProblem("no batch of this log ends at its position \(info.position)") }
        guard chain == info.chain else {
            throw SnapshotProblem("the log's batch ending at \(info.position) has checksum \(hex32(chain)), the snapshot was taken after \(hex32(info.chain))")
        }
        let state: LedgerState
        do {
            state = try LedgerState(snapshot: { mapped.sections[$0]! }, owner: mapped)
        } catch {
            throw SnapshotProblem("\(error)")
        }
        guard state.nextPosition == info.position else { throw SnapshotProblem("its state stands at \(state.nextPosition), its header says \(info.position)") }
        return (state, info)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined() }
    static func hex32(_ value: UInt32) -> String { "0x" + String(value, radix: 16, uppercase: true) }

    /// Renames a snapshot that failed its checks out of the way (kept for a person to look at),
    /// so that no later open checks it again.
    static func setAside(_ path: String, syscalls: SystemCalls) {
        try? syscalls.rename(path, to: path + setAsideSuffix)
    }

    /// What `ledger verify` found of one snapshot: whole and of this log (its checksums, its
    /// version, its identity, the batch at its position, every reference in its sections), and
    /// with `deep`, whether the state it restores equals a replay of the log up to its position.
    public struct Check: Sendable {
        public var path: String
        public var position: UInt64?
        public var problem: String?
        /// True when a replay up to its position gave the same state (only with `deep`).
        public var proven: Bool
    }

    /// Checks every snapshot of `ledger` (oldest first), and with `deep` replays the log once
    /// alongside, comparing each restored state with the replay at its position.
    public static func check(ledger: String, identity: [UInt8]?, reader: LogReader, deep: Bool) -> [Check] {
        var checks: [Check] = []
        var replayed = LedgerState(rebuilding: true, keepsKeyBytes: false)
        for path in files(directory(ledger), syscalls: .live).reversed() {
            do throws(SnapshotProblem) {
                let (state, info) = try load(path, identity: identity, reader: reader)
                var check = Check(path: path, position: info.position, problem: nil, proven: false)
                if deep {
                    do {
                        try Ledger.replay(reader, into: &replayed, through: info.position)
                        if let difference = firstDifference(sectionBytes(state), sectionBytes(replayed)) {
                            check.problem = "it restores a state other than the log's at its position: \(difference)"
                        } else {
                            check.proven = true
                        }
                    } catch {
                        check.problem = "the log could not be replayed up to its position: \(error)"
                    }
                }
                checks.append(check)
            } catch {
                checks.append(Check(path: path, position: nil, problem: error.reason, proven: false))
            }
        }
        return checks
    }

    /// Where two states' snapshot bytes first differ, in words (nil: nowhere).
    public static func firstDifference(_ a: [SnapshotSection: [UInt8]], _ b: [SnapshotSection: [UInt8]]) -> String? {
        for section in SnapshotSection.allCases {
            let (x, y) = (a[section] ?? [], b[section] ?? [])
            if x == y { continue }
            let at = zip(x, y).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(x.count, y.count)
            return "section '\(section.name)' differs at byte \(at) (\(x.count) and \(y.count) bytes)"
        }
        return nil
    }

    /// Every snapshot's bytes per section (for comparing two states: equal states write equal bytes).
    public static func sectionBytes(_ state: LedgerState) -> [SnapshotSection: [UInt8]] {
        var result: [SnapshotSection: [UInt8]] = [:]
        for section in SnapshotSection.allCases {
            var bytes: [UInt8] = []
            let encoder = SectionEncoder { bytes.append(contentsOf: $0) }
            state.writeSnapshot(section, to: encoder)
            try! encoder.finish()
            result[section] = bytes
        }
        return result
    }
}
