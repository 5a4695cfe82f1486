import Glibc
import LedgerBytes

/// What a data directory knows it holds: the `LOG` file of a log directory (data-format.md
/// §1.1), 64 bytes. It is written when the log is created, after its first segment, and again
/// after each new segment is durable, naming the newest segment created. So a directory whose
/// segments were deleted or renamed is damage, never an empty log: a missing first or middle
/// segment breaks the numbering, a missing last one falls short of `newestSegment`, and a log
/// whose every segment vanished still has its `LOG`.
///
/// | offset | width | field |
/// |---|---|---|
/// | 0 | 4 | magic `LLOG` (or `LDIR` for a ledger directory's `LEDGER` file) |
/// | 4 | 4 | CRC-32C of bytes 8..<64 |
/// | 8 | 2 | version 1 |
/// | 10 | 2 | length 64 |
/// | 12 | 4 | reserved, zero |
/// | 16 | 16 | identity: random bytes drawn when the log was created |
/// | 32 | 8 | created at, µs since 1970 |
/// | 40 | 8 | the newest segment number created (0 in `LEDGER`) |
/// | 48 | 16 | reserved, zero |
public struct LogIdentity: Sendable, Equatable {
    public static let byteCount = 64
    public static let logMagic: UInt32 = 0x474F_4C4C  // "LLOG"
    public static let directoryMagic: UInt32 = 0x5249_444C  // "LDIR"
    public static let fileName = "LOG"

    public var identity: [UInt8]
    public var createdAt: Int64
    public var newestSegment: UInt64

    /// A new identity: 16 bytes from the kernel's random source.
    static func fresh(createdAt: Int64) -> LogIdentity {
        var bytes = [UInt8](repeating: 0, count: 16)
        var filled = 0
        let source = Glibc.open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        if source >= 0 {
            while filled < bytes.count {
                let got = bytes.withUnsafeMutableBytes { Glibc.read(source, $0.baseAddress! + filled, $0.count - filled) }
                if got > 0 { filled += got } else if got < 0 && errno == EINTR { continue } else { break }
            }
            Glibc.close(source)
        }
        if filled < bytes.count {
            // No random source: the time and process make it unique enough to tell logs apart.
            withUnsafeBytes(of: (createdAt, Int64(getpid()))) { for k in 0..<16 { bytes[k] = $0[k] } }
        }
        return LogIdentity(identity: bytes, createdAt: createdAt, newestSegment: 0)
    }

    /// The identity as 32 hex digits, for messages.
    public var hex: String { identity.map { String($0 >> 4, radix: 16) + String($0 & 15, radix: 16) }.joined() }

    public func encoded(magic: UInt32 = logMagic) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.byteCount)
        bytes.withUnsafeMutableBytes { target in
            func put<T: FixedWidthInteger>(_ value: T, _ at: Int) { target.storeBytes(of: value.littleEndian, toByteOffset: at, as: T.self) }
            put(magic, 0)
            put(UInt16(1), 8)
            put(UInt16(Self.byteCount), 10)
            for k in 0..<16 { target[16 + k] = identity[k] }
            put(createdAt, 32)
            put(magic == Self.logMagic ? newestSegment : 0, 40)
            put(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(target)[8..<Self.byteCount])), 4)
        }
        return bytes
    }

    /// Decodes and checks the file's bytes; the failure says what is wrong.
    public static func decode(_ bytes: [UInt8], magic: UInt32 = logMagic) -> Result<LogIdentity, SegmentHeaderProblem> {
        guard bytes.count == byteCount else { return .failure(SegmentHeaderProblem("the file has \(bytes.count) bytes, not 64")) }
        return bytes.withUnsafeBytes { raw in
            let reader = ByteReader(raw)
            func get<T: FixedWidthInteger>(_: T.Type, _ at: Int) -> T { reader.getLittleEndian(T.self, at: at)! }
            guard get(UInt32.self, 0) == magic else { return .failure(SegmentHeaderProblem("the magic is not \(magic == logMagic ? "LLOG" : "LDIR")")) }
            guard get(UInt32.self, 4) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[8..<byteCount])) else {
                return .failure(SegmentHeaderProblem("its checksum does not match"))
            }
            guard get(UInt16.self, 8) == 1, get(UInt16.self, 10) == UInt16(byteCount), get(UInt32.self, 12) == 0,
                  raw[48..<64].allSatisfy({ $0 == 0 }) else {
                return .failure(SegmentHeaderProblem("its version, length or reserved bytes are not those of version 1"))
            }
            return .success(LogIdentity(identity: Array(raw[16..<32]), createdAt: get(Int64.self, 32), newestSegment: get(UInt64.self, 40)))
        }
    }

    /// Reads the identity file at `path`: nil when there is none; an error naming the file when
    /// it is there but damaged.
    public static func read(_ path: String, magic: UInt32 = logMagic, syscalls: SystemCalls = .live) throws -> LogIdentity? {
        guard syscalls.fileExists(path) else { return nil }
        let fd = try syscalls.open(path, flags: O_RDONLY)
        defer { try? syscalls.close(fd, path: path) }
        var bytes = [UInt8](repeating: 0, count: byteCount + 1)
        let got = try bytes.withUnsafeMutableBytes { try syscalls.read(fd, into: $0, atAbsoluteOffset: 0, path: path) }
        switch decode(Array(bytes[0..<got]), magic: magic) {
        case .success(let identity): return identity
        case .failure(let why): throw LogError.corrupt("the identity file is damaged: \(why)", file: path, offset: 0)
        }
    }

    /// Writes the file atomically (``SystemCalls/writeAtomically(_:to:directory:)``).
    public func write(_ path: String, directory: String, magic: UInt32 = logMagic, syscalls: SystemCalls = .live) throws {
        try syscalls.writeAtomically(encoded(magic: magic), to: path, directory: directory)
    }
}
